package lakehouse.kafka;

import java.util.Collections;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.catalog.TableProvider;
import org.apache.spark.sql.connector.expressions.Transform;
import org.apache.spark.sql.connector.metric.CustomMetric;
import org.apache.spark.sql.connector.metric.CustomTaskMetric;
import org.apache.spark.sql.connector.read.Batch;
import org.apache.spark.sql.connector.read.InputPartition;
import org.apache.spark.sql.connector.read.PartitionReaderFactory;
import org.apache.spark.sql.connector.read.Scan;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.connector.read.streaming.ContinuousStream;
import org.apache.spark.sql.connector.read.streaming.MicroBatchStream;
import org.apache.spark.sql.connector.read.streaming.Offset;
import org.apache.spark.sql.connector.read.streaming.ReadLimit;
import org.apache.spark.sql.connector.read.streaming.ReportsSourceMetrics;
import org.apache.spark.sql.connector.read.streaming.SupportsAdmissionControl;
import org.apache.spark.sql.connector.read.streaming.SupportsTriggerAvailableNow;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * Spark's Kafka source, unchanged but for one guard: a restarted query that replays the batch
 * it had planned but not committed reports that batch's progress before the Kafka source has
 * looked up the topic's latest offsets, and Spark 4.1.1's KafkaMicroBatchStream.metrics then
 * throws a NullPointerException (SPARK-55271; fixed upstream by apache/spark#56526). The query
 * fails after every restart, so a feed killed mid-batch never comes back. Here metrics() answers
 * no metrics in that case instead (they are the "offsets behind latest" backlog figures, which
 * the next batch reports again).
 *
 * Everything else is Kafka's own: this provider loads org.apache.spark.sql.kafka010's provider
 * (the spark-sql-kafka package must be on the class path) and wraps its table, scan builder,
 * scan and micro-batch stream, delegating every call. Use it as the format
 * lakehouse.kafka.GuardedKafkaSource with Kafka's options. Drop it once Spark carries the fix.
 */
public class GuardedKafkaSource implements TableProvider {
  public static final String KAFKA_PROVIDER = "org.apache.spark.sql.kafka010.KafkaSourceProvider";

  private final TableProvider kafka;

  public GuardedKafkaSource() {
    try {
      ClassLoader loader = Thread.currentThread().getContextClassLoader();
      if (loader == null) {
        loader = GuardedKafkaSource.class.getClassLoader();
      }
      kafka = (TableProvider) Class.forName(KAFKA_PROVIDER, true, loader)
          .getDeclaredConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("Spark's Kafka source is not on the class path: add the "
          + "package org.apache.spark:spark-sql-kafka-0-10_2.13 (LAKEHOUSE_EXTRA_PACKAGES)", e);
    }
  }

  @Override
  public StructType inferSchema(CaseInsensitiveStringMap options) {
    return kafka.inferSchema(options);
  }

  @Override
  public Transform[] inferPartitioning(CaseInsensitiveStringMap options) {
    return kafka.inferPartitioning(options);
  }

  @Override
  public boolean supportsExternalMetadata() {
    return kafka.supportsExternalMetadata();
  }

  @Override
  public Table getTable(StructType schema, Transform[] partitioning, Map<String, String> properties) {
    return new GuardedTable((SupportsRead) kafka.getTable(schema, partitioning, properties));
  }

  static final class GuardedTable implements SupportsRead {
    private final SupportsRead table;

    GuardedTable(SupportsRead table) {
      this.table = table;
    }

    @Override
    public String name() {
      return table.name();
    }

    @Override
    @SuppressWarnings("deprecation")
    public StructType schema() {
      return table.schema();
    }

    @Override
    public Set<TableCapability> capabilities() {
      return table.capabilities();
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
      ScanBuilder builder = table.newScanBuilder(options);
      return () -> new GuardedScan(builder.build());
    }
  }

  static final class GuardedScan implements Scan {
    private final Scan scan;

    GuardedScan(Scan scan) {
      this.scan = scan;
    }

    @Override
    public StructType readSchema() {
      return scan.readSchema();
    }

    @Override
    public String description() {
      return scan.description();
    }

    @Override
    public Batch toBatch() {
      return scan.toBatch();
    }

    @Override
    public MicroBatchStream toMicroBatchStream(String checkpointLocation) {
      return new GuardedStream(scan.toMicroBatchStream(checkpointLocation));
    }

    @Override
    public ContinuousStream toContinuousStream(String checkpointLocation) {
      return scan.toContinuousStream(checkpointLocation);
    }

    @Override
    public CustomMetric[] supportedCustomMetrics() {
      return scan.supportedCustomMetrics();
    }

    @Override
    public CustomTaskMetric[] reportDriverMetrics() {
      return scan.reportDriverMetrics();
    }

    @Override
    public ColumnarSupportMode columnarSupportMode() {
      return scan.columnarSupportMode();
    }
  }

  /** Kafka's micro-batch stream, with metrics() guarded. */
  static final class GuardedStream
      implements MicroBatchStream, SupportsTriggerAvailableNow, ReportsSourceMetrics {
    private final MicroBatchStream stream;

    GuardedStream(MicroBatchStream stream) {
      this.stream = stream;
    }

    private SupportsAdmissionControl controlled() {
      return (SupportsAdmissionControl) stream;
    }

    @Override
    public Offset latestOffset() {
      return stream.latestOffset();
    }

    @Override
    public InputPartition[] planInputPartitions(Offset start, Offset end) {
      return stream.planInputPartitions(start, end);
    }

    @Override
    public PartitionReaderFactory createReaderFactory() {
      return stream.createReaderFactory();
    }

    @Override
    public Offset initialOffset() {
      return stream.initialOffset();
    }

    @Override
    public Offset deserializeOffset(String json) {
      return stream.deserializeOffset(json);
    }

    @Override
    public void commit(Offset end) {
      stream.commit(end);
    }

    @Override
    public void stop() {
      stream.stop();
    }

    @Override
    public ReadLimit getDefaultReadLimit() {
      return controlled().getDefaultReadLimit();
    }

    @Override
    public Offset latestOffset(Offset startOffset, ReadLimit limit) {
      return controlled().latestOffset(startOffset, limit);
    }

    @Override
    public Offset reportLatestOffset() {
      return controlled().reportLatestOffset();
    }

    @Override
    public void prepareForTriggerAvailableNow() {
      ((SupportsTriggerAvailableNow) stream).prepareForTriggerAvailableNow();
    }

    @Override
    public Map<String, String> metrics(Optional<Offset> latestConsumedOffset) {
      try {
        return ((ReportsSourceMetrics) stream).metrics(latestConsumedOffset);
      } catch (NullPointerException beforeLatestOffsetsAreKnown) { // SPARK-55271
        return Collections.emptyMap();
      }
    }

    @Override
    public String toString() {
      return stream.toString();
    }
  }
}
