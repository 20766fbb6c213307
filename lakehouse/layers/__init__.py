"""The modelled layers above near-source: integrated, common and mart (6.2.4.2)."""
