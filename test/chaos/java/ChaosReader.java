/*
 * The chaos suite's reader of Kafka: Apache Kafka's own Java client, read_committed, every
 * partition of one topic from its start to its last stable offset at the time of the call. It
 * shares no code with Weir (nor Weir's Kafka client), and is the reference implementation of
 * read_committed. Run as a single source file: java -cp '<kafka libs>/*' ChaosReader.java <brokers> <topic> [headers-only]
 * Prints one JSON line per record: {"p":partition,"o":offset,"k":"<key base64>","h":{name:value},"v":"<value base64>"}.
 */
import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class ChaosReader {
  public static void main(String[] args) {
    String brokers = args[0];
    String topic = args[1];
    boolean headersOnly = args.length > 2 && args[2].equals("headers-only");
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    Base64.Encoder b64 = Base64.getEncoder();
    StringBuilder out = new StringBuilder();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo info : consumer.partitionsFor(topic, Duration.ofSeconds(60))) partitions.add(new TopicPartition(topic, info.partition()));
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      // read_committed: the end offsets are the last stable offsets.
      Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, Duration.ofSeconds(60));
      long deadline = System.currentTimeMillis() + 120_000;
      while (true) {
        boolean done = true;
        for (TopicPartition tp : partitions) if (consumer.position(tp, Duration.ofSeconds(60)) < ends.get(tp)) done = false;
        if (done) break;
        if (System.currentTimeMillis() > deadline) throw new RuntimeException("reading " + topic + ": not done after 120 s");
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          if (r.offset() >= ends.get(new TopicPartition(topic, r.partition()))) continue;
          out.setLength(0);
          out.append("{\"p\":").append(r.partition()).append(",\"o\":").append(r.offset());
          out.append(",\"k\":\"").append(r.key() == null ? "" : b64.encodeToString(r.key())).append("\",\"h\":{");
          boolean first = true;
          for (Header h : r.headers()) {
            if (!first) out.append(',');
            first = false;
            out.append('"').append(escape(h.key())).append("\":\"").append(h.value() == null ? "" : escape(new String(h.value(), java.nio.charset.StandardCharsets.UTF_8))).append('"');
          }
          out.append("},\"v\":\"").append(headersOnly || r.value() == null ? "" : b64.encodeToString(r.value())).append("\"}");
          System.out.println(out);
        }
      }
    }
  }

  private static String escape(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.toString();
  }
}
