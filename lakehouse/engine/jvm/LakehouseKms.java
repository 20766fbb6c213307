package lakehouse.parquet;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.crypto.KeyAccessDeniedException;
import org.apache.parquet.crypto.keytools.KmsClient;

/**
 * Parquet modular encryption's key service for the lakehouse: wraps Parquet's key-encryption
 * keys with a lakehouse master key (AES-256-GCM, the master key id as associated data), the
 * same format as lakehouse.security.at_rest.wrap_key on the Python side.
 *
 * The master keys come from the Hadoop setting lakehouse.parquet.master.keys ("id:base64,...")
 * that the engine sets at run time from the key provider; they are never logged.
 */
public class LakehouseKms implements KmsClient {
  public static final String KEYS = "lakehouse.parquet.master.keys";
  private static final int NONCE = 12;
  private static final SecureRandom RANDOM = new SecureRandom();
  private final Map<String, byte[]> masterKeys = new HashMap<>();

  @Override
  public void initialize(Configuration conf, String instanceId, String instanceUrl, String token) {
    String value = conf.getTrimmed(KEYS, "");
    for (String entry : value.split(",")) {
      int colon = entry.indexOf(':');
      if (colon > 0) {
        masterKeys.put(entry.substring(0, colon).trim(),
            Base64.getDecoder().decode(entry.substring(colon + 1).trim()));
      }
    }
  }

  private byte[] master(String id) throws KeyAccessDeniedException {
    byte[] key = masterKeys.get(id);
    if (key == null) {
      throw new KeyAccessDeniedException("no lakehouse master key " + id + " in " + KEYS
          + " (the engine sets it from the key provider when encryption at rest is on)");
    }
    return key;
  }

  @Override
  public String wrapKey(byte[] keyBytes, String masterKeyIdentifier) throws KeyAccessDeniedException {
    try {
      byte[] nonce = new byte[NONCE];
      RANDOM.nextBytes(nonce);
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.ENCRYPT_MODE, new SecretKeySpec(master(masterKeyIdentifier), "AES"),
          new GCMParameterSpec(128, nonce));
      cipher.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      byte[] sealed = cipher.doFinal(keyBytes);
      byte[] out = new byte[NONCE + sealed.length];
      System.arraycopy(nonce, 0, out, 0, NONCE);
      System.arraycopy(sealed, 0, out, NONCE, sealed.length);
      return Base64.getEncoder().encodeToString(out);
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("could not wrap a key with " + masterKeyIdentifier, e);
    }
  }

  @Override
  public byte[] unwrapKey(String wrappedKey, String masterKeyIdentifier) throws KeyAccessDeniedException {
    try {
      byte[] in = Base64.getDecoder().decode(wrappedKey);
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(Cipher.DECRYPT_MODE, new SecretKeySpec(master(masterKeyIdentifier), "AES"),
          new GCMParameterSpec(128, in, 0, NONCE));
      cipher.updateAAD(masterKeyIdentifier.getBytes(StandardCharsets.UTF_8));
      return cipher.doFinal(in, NONCE, in.length - NONCE);
    } catch (GeneralSecurityException e) {
      throw new KeyAccessDeniedException("could not unwrap a key with " + masterKeyIdentifier
          + " (a different master key?)", e);
    }
  }
}
