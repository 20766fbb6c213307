package lakehouse.checkpoint;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.PathFilter;
import org.apache.hadoop.fs.PositionedReadable;
import org.apache.hadoop.fs.Seekable;
import org.apache.spark.sql.execution.streaming.checkpointing.CheckpointFileManager;

/**
 * Structured Streaming state encrypted at rest: the state store's files in a checkpoint
 * (state/OPERATOR/PARTITION/..., the delta and snapshot files holding a stateful query's grouping
 * keys and running aggregates, and their schema) are sealed with AES-256-GCM. The query's
 * bookkeeping logs (metadata, offsets, commits, sources) hold ids, positions and delivered file
 * names, no data value, and stay as Spark writes them: the lakehouse reads them for its status.
 *
 * Spark creates its checkpoint file manager from the setting CLASS_SETTING; this one wraps the
 * manager Spark would have chosen without it. The key comes from the Hadoop setting
 * lakehouse.checkpoint.secret (base64; the engine derives it from the Parquet master key at
 * run time, never logged); writing is sealed while lakehouse.checkpoint.encrypt is true. A file
 * is MAGIC, a 12-byte nonce, then the ciphertext with its tag (MAGIC as associated data);
 * a file without MAGIC (written before encryption was on) is read as it is.
 */
public class EncryptedCheckpointFileManager implements CheckpointFileManager {
  public static final String CLASS_SETTING = "spark.sql.streaming.checkpointFileManagerClass";
  public static final String SECRET = "lakehouse.checkpoint.secret";
  public static final String ENCRYPT = "lakehouse.checkpoint.encrypt";
  private static final byte[] MAGIC = "LHCKPT01".getBytes(StandardCharsets.US_ASCII);
  private static final int NONCE = 12;
  private static final int TAG_BITS = 128;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final CheckpointFileManager inner;
  private final byte[] key;
  private final boolean encrypt;

  public EncryptedCheckpointFileManager(Path path, Configuration conf) {
    Configuration plain = new Configuration(conf);
    plain.unset(CLASS_SETTING);
    this.inner = CheckpointFileManager.create(path, plain);
    String secret = conf.getTrimmed(SECRET, "");
    this.key = secret.isEmpty() ? null : Base64.getDecoder().decode(secret);
    this.encrypt = key != null && conf.getBoolean(ENCRYPT, false);
  }

  private Cipher cipher(int mode, byte[] nonce) throws IOException {
    if (key == null) {
      throw new IOException("this checkpoint file is encrypted and " + SECRET + " is not set: "
          + "run the streaming query from a lakehouse engine with encryption at rest on");
    }
    try {
      Cipher cipher = Cipher.getInstance("AES/GCM/NoPadding");
      cipher.init(mode, new SecretKeySpec(key, "AES"), new GCMParameterSpec(TAG_BITS, nonce));
      cipher.updateAAD(MAGIC);
      return cipher;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up the checkpoint cipher: " + e.getMessage(), e);
    }
  }

  @Override
  public CancellableFSDataOutputStream createAtomic(Path path, boolean overwriteIfPossible) {
    CancellableFSDataOutputStream target = inner.createAtomic(path, overwriteIfPossible);
    if (!encrypt || !inStateStore(path)) {
      return target;
    }
    return new Sealed(new Sealing(target, path), target);
  }

  /** Whether path lies in a state store: below .../state/OPERATOR (a number). */
  static boolean inStateStore(Path path) {
    for (Path p = path; p != null && p.getParent() != null; p = p.getParent()) {
      if (p.getParent().getName().equals("state") && p.getName().matches("\\d+")) {
        return true;
      }
    }
    return false;
  }

  @Override
  public FSDataInputStream open(Path path) {
    FSDataInputStream in = inner.open(path);
    try {
      byte[] head = new byte[MAGIC.length];
      int got = in.read(0L, head, 0, head.length);
      if (got < MAGIC.length || !Arrays.equals(head, MAGIC)) {
        return in;  // written in clear
      }
      byte[] sealed = in.readAllBytes();
      in.close();
      byte[] nonce = Arrays.copyOfRange(sealed, MAGIC.length, MAGIC.length + NONCE);
      byte[] clear = cipher(Cipher.DECRYPT_MODE, nonce)
          .doFinal(sealed, MAGIC.length + NONCE, sealed.length - MAGIC.length - NONCE);
      return new FSDataInputStream(new SeekableBytes(clear));
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalStateException("cannot read the encrypted checkpoint file " + path
          + " (was it written under another master key?): " + e.getMessage(), e);
    }
  }

  @Override
  public FileStatus[] list(Path path, PathFilter filter) {
    return inner.list(path, filter);
  }

  @Override
  public void mkdirs(Path path) {
    inner.mkdirs(path);
  }

  @Override
  public boolean exists(Path path) {
    return inner.exists(path);
  }

  @Override
  public void delete(Path path) {
    inner.delete(path);
  }

  @Override
  public boolean isLocal() {
    return inner.isLocal();
  }

  @Override
  public Path createCheckpointDirectory() {
    return inner.createCheckpointDirectory();
  }

  @Override
  public void close() {
    inner.close();
  }

  /** The stream Spark writes through: cancel drops the file, close seals and commits it. */
  private static final class Sealed extends CancellableFSDataOutputStream {
    private final CancellableFSDataOutputStream target;

    Sealed(Sealing sealing, CancellableFSDataOutputStream target) {
      super(sealing);
      this.target = target;
    }

    @Override
    public void cancel() {
      target.cancel();
    }
  }

  /** Buffers the clear bytes; on close writes MAGIC, nonce and ciphertext to the target. */
  private final class Sealing extends OutputStream {
    private final ByteArrayOutputStream clear = new ByteArrayOutputStream();
    private final CancellableFSDataOutputStream target;
    private final Path path;
    private boolean closed;

    Sealing(CancellableFSDataOutputStream target, Path path) {
      this.target = target;
      this.path = path;
    }

    @Override
    public void write(int b) {
      clear.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      clear.write(b, off, len);
    }

    @Override
    public void close() throws IOException {
      if (closed) {
        return;
      }
      closed = true;
      byte[] nonce = new byte[NONCE];
      RANDOM.nextBytes(nonce);
      byte[] sealed;
      try {
        sealed = cipher(Cipher.ENCRYPT_MODE, nonce).doFinal(clear.toByteArray());
      } catch (GeneralSecurityException e) {
        target.cancel();
        throw new IOException("cannot encrypt the checkpoint file " + path + ": " + e.getMessage(), e);
      }
      target.write(MAGIC);
      target.write(nonce);
      target.write(sealed);
      target.close();
    }
  }

  /** A decrypted file in memory, seekable as Hadoop's input streams are. */
  private static final class SeekableBytes extends ByteArrayInputStream
      implements Seekable, PositionedReadable {
    SeekableBytes(byte[] bytes) {
      super(bytes);
    }

    @Override
    public synchronized void seek(long position) throws IOException {
      if (position < 0 || position > count) {
        throw new EOFException("seek to " + position + " outside 0.." + count);
      }
      pos = (int) position;
    }

    @Override
    public synchronized long getPos() {
      return pos;
    }

    @Override
    public boolean seekToNewSource(long target) {
      return false;
    }

    @Override
    public int read(long position, byte[] b, int off, int len) {
      if (position >= count) {
        return -1;
      }
      int n = (int) Math.min(len, count - position);
      System.arraycopy(buf, (int) position, b, off, n);
      return n;
    }

    @Override
    public void readFully(long position, byte[] b, int off, int len) throws IOException {
      if (position + len > count) {
        throw new EOFException("read past the end of the checkpoint file");
      }
      System.arraycopy(buf, (int) position, b, off, len);
    }

    @Override
    public void readFully(long position, byte[] b) throws IOException {
      readFully(position, b, 0, b.length);
    }
  }
}
