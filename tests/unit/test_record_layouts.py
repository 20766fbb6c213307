"""XML and multi-record fixed-width deliveries (issue #20): declared in the contract, validated
with the key and the fix, parsed into rows, malformed records quarantined with a reason.
Synthetic contracts, no Spark."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from lakehouse.config.models import SourceContract
from lakehouse.config.record_layouts import layout_findings
from lakehouse.errors import DeliveryError
from lakehouse.ingestion.extract_parser import parse_extract


def attribute(name: str, type_: str = "string", **extra) -> dict:
    return {"name": name, "type": type_, "business_name": {"zh": name, "en": name},
            "security_level": 1, "standard": "DS-TST-0001", **extra}


def xml_contract(**xml) -> SourceContract:
    return SourceContract.model_validate({
        "system": "tst", "entity": "action", "owner": "test.owner", "load_type": "append",
        "delivery": {"format": "xml", "path": "tst/{data_date}/actions.xml", "xml": {
            "record_path": "Actions/Action",
            "fields": {"action": "@ActionType", "at": "@ActionTS", "c_id": "Customer/@C_ID",
                       "last_name": "Customer/Name/C_L_NAME", "tier": "Customer/@C_TIER"},
            **xml}},
        "attributes": [attribute("action"),
                       attribute("at", "timestamp", format="%Y-%m-%dT%H:%M:%S"),
                       attribute("c_id", "integer"), attribute("last_name"),
                       attribute("tier", "integer")],
    })


DOCUMENT = """<?xml version="1.0" encoding="UTF-8"?>
<T:Actions xmlns:T="http://example.org/t">
  <T:Action ActionType="NEW" ActionTS="2007-07-07T16:07:49">
    <Customer C_ID="0" C_TIER="3"><Name><C_L_NAME>Joannis</C_L_NAME></Name></Customer>
  </T:Action>
  <T:Action ActionType="UPDCUST" ActionTS="2007-07-08T10:00:00">
    <Customer C_ID="0"><Name><C_L_NAME/></Name></Customer>
  </T:Action>
  <T:Action ActionType="NEW" ActionTS="2007-07-09T10:00:00">
    <Customer C_ID="x1" C_TIER="2"><Name><C_L_NAME>Ma</C_L_NAME></Name></Customer>
  </T:Action>
  <T:Action ActionType="NEW" ActionTS="2007-07-09T11:00:00">
    <Customer C_ID="2"><Name><C_L_NAME>A</C_L_NAME><C_L_NAME>B</C_L_NAME></Name></Customer>
  </T:Action>
</T:Actions>
"""


def test_xml_records_become_rows_with_nested_elements_and_attributes_flattened(tmp_path):
    path = tmp_path / "actions.xml"
    path.write_text(DOCUMENT)
    parsed = parse_extract(path, xml_contract())
    assert parsed.columns["action"] == ["NEW", "UPDCUST"]
    assert parsed.columns["at"] == [datetime(2007, 7, 7, 16, 7, 49), datetime(2007, 7, 8, 10)]
    assert parsed.columns["c_id"] == [0, 0]
    assert parsed.columns["last_name"] == ["Joannis", None]  # an empty element reads as null
    assert parsed.columns["tier"] == [3, None]  # an attribute left out reads as null
    assert parsed.lines == [3, 6]


def test_xml_records_that_do_not_fit_are_quarantined_with_line_and_reason(tmp_path):
    path = tmp_path / "actions.xml"
    path.write_text(DOCUMENT)
    parsed = parse_extract(path, xml_contract())
    assert [r.line for r in parsed.rejected] == [9, 12]
    assert "c_id" in parsed.rejected[0].reason and "x1" in parsed.rejected[0].reason
    assert "'last_name' (Customer/Name/C_L_NAME) occurs 2 times" in parsed.rejected[1].reason
    assert parsed.rejected[1].raw.startswith('<T:Action ActionType="NEW"')
    assert parsed.rejected[1].raw.endswith("</T:Action>")
    assert parsed.rows_in == 4  # nothing is lost


def test_a_broken_xml_document_names_its_line_and_the_fix(tmp_path):
    path = tmp_path / "actions.xml"
    path.write_text(DOCUMENT.replace("</Customer>\n  </T:Action>\n  <T:Action ActionType=\"UPDCUST\"",
                                     "\n  </T:Action>\n  <T:Action ActionType=\"UPDCUST\""))
    with pytest.raises(DeliveryError) as caught:
        parse_extract(path, xml_contract())
    problem = caught.value.problems[0]
    assert "mismatched tag" in problem.message and problem.line == 5
    assert "redeliver" in problem.fix


def test_an_xml_record_path_that_matches_nothing_is_a_delivery_error(tmp_path):
    path = tmp_path / "actions.xml"
    path.write_text(DOCUMENT)
    with pytest.raises(DeliveryError, match="no element at Actions/Act"):
        parse_extract(path, xml_contract(record_path="Actions/Act"))


def found(contract: dict) -> dict[str, tuple[str, str]]:
    """key path -> (message, fix) of the contract's layout findings."""
    return {".".join(map(str, f.loc)): (f.message, f.fix) for f in layout_findings(contract)}


def test_xml_contract_errors_name_the_key_and_the_fix():
    with pytest.raises(ValidationError, match="field 'c_idd' is not an attribute"):
        xml_contract(fields={"action": "@ActionType", "c_idd": "Customer/@C_ID"})
    spec = xml_contract().model_dump(mode="json")
    spec["delivery"]["xml"]["fields"] = {"action": "@ActionType", "c_idd": "Customer/@C_ID",
                                         "at": "@ActionTS", "tier": "Customer/@C_TIER"}
    findings = found(spec)
    message, fix = findings["delivery.xml.fields.c_idd"]
    assert message == "field 'c_idd' is not an attribute of the contract"
    assert "did you mean 'c_id'" in fix
    assert findings["delivery.xml.fields"][0] == "attribute 'last_name' has no path in the XML record"
    with pytest.raises(ValidationError, match="is not an element path"):
        xml_contract(fields={"action": "Customer//@x"})


def multi_contract(**records) -> SourceContract:
    return SourceContract.model_validate({
        "system": "tst", "entity": "finwire", "owner": "test.owner", "load_type": "append",
        "delivery": {"format": "fixed-width-multi", "path": "tst/{data_date}/finwire",
                     "records": {"record_type": {"start": 5, "width": 3},
                                 "layouts": {"CMP": {"pts": 4, "rec_type": 3, "name": 6, "cik": 4},
                                             "SEC": {"pts": 4, "rec_type": 3, "symbol": 5,
                                                     "co_name_or_cik": None}},
                                 **records}},
        "attributes": [attribute("pts", "integer"), attribute("rec_type"), attribute("name"),
                       attribute("cik", "integer"), attribute("symbol"),
                       attribute("co_name_or_cik")],
    })


FINWIRE = ("2001CMPAcme  0042\n"
           "2002SECABC  0042\n"
           "2003SECXYZ  Acme Corporation\n"
           "2004FIN12345\n"
           "2005CMPAc 0042\n"
           "2006CMPBeta  00x2\n")


def test_the_record_type_decides_the_layout_and_the_last_field_may_take_the_rest(tmp_path):
    path = tmp_path / "finwire"
    path.write_text(FINWIRE)
    parsed = parse_extract(path, multi_contract(other_record_types=["FIN"]))
    assert parsed.columns["rec_type"] == ["CMP", "SEC", "SEC"]
    assert parsed.columns["name"] == ["Acme", None, None]
    assert parsed.columns["cik"] == [42, None, None]
    assert parsed.columns["co_name_or_cik"] == [None, "0042", "Acme Corporation"]
    assert parsed.lines == [1, 2, 3]
    reasons = {r.line: r.reason for r in parsed.rejected}
    assert reasons[5] == "CMP record is 14 bytes, expected 17"
    assert "column 4 (cik)" in reasons[6]
    assert 4 not in reasons  # FIN: another contract's records, skipped


def test_an_unknown_record_type_is_quarantined_not_dropped(tmp_path):
    path = tmp_path / "finwire"
    path.write_text(FINWIRE)
    parsed = parse_extract(path, multi_contract())
    reasons = {r.line: r.reason for r in parsed.rejected}
    assert reasons[4] == "record type 'FIN' at bytes 5-7 has no layout (known: CMP, SEC)"
    assert parsed.rows_in == 6


def test_multi_record_layout_errors_name_the_key_and_the_fix():
    with pytest.raises(ValidationError, match="layout field 'nam' is not an attribute"):
        multi_contract(layouts={"CMP": {"pts": 4, "rec_type": 3, "nam": 6}})
    spec = multi_contract().model_dump(mode="json")
    spec["delivery"]["records"]["layouts"] = {"CMP": {"pts": 4, "rec_type": 3, "nam": 6}}
    findings = found(spec)
    assert "did you mean 'name'" in findings["delivery.records.layouts.CMP.nam"][1]
    assert findings["delivery.records.layouts"] == (
        "attribute 'co_name_or_cik' is in no record layout",
        "add co_name_or_cik: <width> to the layout that carries it")
    with pytest.raises(ValidationError, match="only the last field may have width null"):
        multi_contract(layouts={"CMP": {"pts": None, "rec_type": 3, "name": 6, "cik": 4,
                                        "symbol": 1, "co_name_or_cik": 1}})


def test_change_capture_needs_a_zipper_table_and_declared_columns():
    spec = {
        "system": "tst", "entity": "account", "owner": "test.owner", "load_type": "append",
        "keys": ["id"],
        "delivery": {"format": "csv", "path": "a/{data_date}.txt", "delimiter": "|",
                     "cdc": {"operation_column": "cdc_flag", "sequence_column": "cdc_dsm"}},
        "attributes": [attribute("cdc_flag"), attribute("cdc_dsn", "integer"),
                       attribute("id", "integer", nullable=False)],
    }
    with pytest.raises(ValidationError, match="applied to zipper tables"):
        SourceContract.model_validate(spec)
    findings = found(spec)
    assert findings["load_type"] == ("change-data-capture deliveries are applied to zipper tables",
                                     "set load_type: zipper")
    message, fix = findings["delivery.cdc.sequence_column"]
    assert message == "sequence column 'cdc_dsm' is not an attribute of the contract"
    assert "did you mean 'cdc_dsn'" in fix
    SourceContract.model_validate({**spec, "load_type": "zipper", "delivery": {
        **spec["delivery"], "cdc": {"operation_column": "cdc_flag", "sequence_column": "cdc_dsn"}}})


def test_a_width_on_an_attribute_of_a_multi_record_delivery_points_at_the_layouts():
    spec = multi_contract().model_dump(mode="json")
    spec["attributes"][0]["width"] = 4
    with pytest.raises(ValidationError, match="width is only allowed for fixed-width delivery"):
        SourceContract.model_validate(spec)

