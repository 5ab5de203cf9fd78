package ir.sazesh.peer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.IsolationLevel;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.errors.InvalidStateStoreException;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;

/**
 * The Kafka Streams peer of Sazesh's projector: reads the events topic from offset 0, folds it
 * into a case table and a business table (RocksDB state stores, each backed by a changelog
 * topic), times how long it takes until every record up to the topic's end (as of the start)
 * is processed and committed, and prints one JSON line with the rate and the projections'
 * sums. See README.md.
 *
 * The topology (what a Kafka Streams user would write for these two projections):
 *
 *   events (key: stream id, value: Envelope bytes)
 *     -> decode (value deserializer) -> skip party events (registrations, seal restrictions)
 *     -> groupByKey -> aggregate(CaseState.evolve)              = KTable "cases"   (by case id)
 *     -> groupBy(business id of the case, the case's counters)  = repartition "cases-by-business"
 *     -> aggregate(adder: + new counters, subtractor: - old)    = KTable "businesses" (by business)
 *
 * Why a repartition and not one processor with two stores: a business's cases live in every
 * partition of the events topic (records are placed by case id), and a store is local to one
 * task, that is to one partition. A business store next to the case store would hold, in each
 * task, a partial count for the cases of that partition only. Re-keying the case table by
 * business id (the KTable groupBy above) sends each case's change to the one task that owns
 * the business, which is exactly Kafka Streams' answer to an aggregation by another key. The
 * table-to-table aggregation gets the case's previous and new row on every change, so the
 * business row is the sum of its cases' current contributions: "open cases" goes down when a
 * case closes without anyone writing a "closed" rule for the business table.
 */
public final class StreamsPeer {
  static final String CASES_STORE = "cases";
  static final String BUSINESSES_STORE = "businesses";
  static final String BY_BUSINESS = "cases-by-business";

  /** The two projections, read from `inputTopic`. `seen` counts every record read. */
  static Topology topology(String inputTopic, AtomicLong seen, Properties props) {
    StreamsBuilder builder = new StreamsBuilder();
    Serde<SazeshEvent> events = Serdes.serdeFrom(
        (topic, e) -> { throw new UnsupportedOperationException("the peer never writes events"); },
        new SazeshEvent.EnvelopeDeserializer());

    KTable<String, CaseState> cases = builder
        .stream(inputTopic, Consumed.with(Serdes.String(), events).withName("events"))
        .peek((streamId, e) -> seen.incrementAndGet(), Named.as("count-records"))
        .filter((streamId, e) -> e != null && e.isCaseEvent(), Named.as("case-events"))
        .groupByKey()   // the key is already the case id: no repartition
        .aggregate(CaseState::new, (caseId, e, row) -> row.evolve(e), Named.as("evolve-case"),
            Materialized.<String, CaseState, KeyValueStore<Bytes, byte[]>>as(CASES_STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(CaseState.SERDE));

    cases
        .groupBy((caseId, row) -> KeyValue.pair(row.filed() ? row.businessId : null, Counters.of(row)),
            Grouped.with(BY_BUSINESS, Serdes.String(), Counters.SERDE))
        .aggregate(Counters::new,
            (businessId, contribution, total) -> total.plus(contribution, +1),
            (businessId, contribution, total) -> total.plus(contribution, -1),
            Named.as("sum-business"),
            Materialized.<String, Counters, KeyValueStore<Bytes, byte[]>>as(BUSINESSES_STORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(Counters.SERDE));

    return builder.build(props);
  }

  // ---- Options ------------------------------------------------------------------------------

  static final class Options {
    String bootstrap;
    String prefix;
    String guarantee = StreamsConfig.EXACTLY_ONCE_V2;
    int threads = 2;
    String applicationId;
    Path stateParent;
    Long commitIntervalMs = 100L;
    long timeoutSeconds = 1800;
    boolean perBusiness;
    boolean keepTopics;
    final Map<String, String> config = new TreeMap<>();
  }

  static final String USAGE = """
      usage: run.sh BOOTSTRAP PREFIX [options]
      Reads PREFIX + "events" from offset 0 into a case and a business table, and prints one JSON
      line: the events per second until everything up to the topic's end was processed and
      committed, and the projections' sums.

        --guarantee G            exactly_once_v2 (default) or at_least_once
        --threads N              stream threads (default 2)
        --application-id ID      default: sazesh-streams-peer-<random> (a new one every run, so
                                 every run starts from offset 0 with empty stores)
        --state-dir DIR          where the run's state folder is made (default: the temp folder);
                                 the run's own folder in it is deleted at the end
        --commit-interval-ms N   default 100 for both guarantees (Kafka Streams' default for
                                 exactly_once_v2; at_least_once would otherwise commit every 30 s,
                                 and the run only ends once everything is committed)
        --config KEY=VALUE       any other Kafka Streams / client setting (repeatable)
        --per-business           also print every business's counters
        --keep-topics            keep the run's internal topics and consumer group
        --timeout-s N            give up after N seconds (default 1800)
      """;

  static Options parse(String[] args) {
    Options o = new Options();
    List<String> positional = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      switch (a) {
        case "-h", "--help" -> {
          System.err.print(USAGE);
          System.exit(0);
        }
        case "--guarantee" -> o.guarantee = value(args, ++i, a);
        case "--threads" -> o.threads = Integer.parseInt(value(args, ++i, a));
        case "--application-id" -> o.applicationId = value(args, ++i, a);
        case "--state-dir" -> o.stateParent = Paths.get(value(args, ++i, a));
        case "--commit-interval-ms" -> o.commitIntervalMs = Long.parseLong(value(args, ++i, a));
        case "--timeout-s" -> o.timeoutSeconds = Long.parseLong(value(args, ++i, a));
        case "--per-business" -> o.perBusiness = true;
        case "--keep-topics" -> o.keepTopics = true;
        case "--config" -> {
          String kv = value(args, ++i, a);
          int eq = kv.indexOf('=');
          if (eq <= 0) usage("--config takes KEY=VALUE, not " + kv);
          o.config.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        default -> {
          if (a.startsWith("--")) usage("unknown option " + a);
          positional.add(a);
        }
      }
    }
    if (positional.size() != 2) usage("BOOTSTRAP and PREFIX are required");
    o.bootstrap = positional.get(0);
    o.prefix = positional.get(1);
    if (o.guarantee.equals("exactly_once")) o.guarantee = StreamsConfig.EXACTLY_ONCE_V2;
    if (!o.guarantee.equals(StreamsConfig.EXACTLY_ONCE_V2) && !o.guarantee.equals(StreamsConfig.AT_LEAST_ONCE))
      usage("--guarantee is exactly_once_v2 or at_least_once, not " + o.guarantee);
    if (o.threads < 1) usage("--threads must be at least 1");
    if (o.applicationId == null) o.applicationId = "sazesh-streams-peer-" + UUID.randomUUID().toString().substring(0, 8);
    return o;
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) usage(option + " needs a value");
    return args[i];
  }

  private static void usage(String why) {
    System.err.println("error: " + why);
    System.err.print(USAGE);
    System.exit(2);
  }

  static Properties streamsConfig(Options o, Path stateDir) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, o.applicationId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, o.threads);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, o.guarantee);
    if (o.commitIntervalMs != null) p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, o.commitIntervalMs);
    p.put(StreamsConfig.TOPOLOGY_OPTIMIZATION_CONFIG, StreamsConfig.OPTIMIZE);
    // The events topic is written in transactions (engine/kafka/kafka_log.h): never read an aborted
    // append, whatever the guarantee (exactly_once_v2 sets this by itself).
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.ISOLATION_LEVEL_CONFIG), "read_committed");
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.putAll(o.config);
    return p;
  }

  // ---- Main ---------------------------------------------------------------------------------

  public static void main(String[] args) throws Exception {
    System.exit(run(parse(args)));
  }

  /** One measured run; returns the exit status. */
  static int run(Options o) throws Exception {
    String inputTopic = o.prefix + "events";
    Path stateDir = o.stateParent == null
        ? Files.createTempDirectory("streams-peer-")
        : Files.createTempDirectory(Files.createDirectories(o.stateParent), "streams-peer-");

    Properties adminProps = new Properties();
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrap);
    o.config.forEach((k, v) -> {
      if (AdminClientConfig.configNames().contains(k)) adminProps.put(k, v);
    });

    int exit = 0;
    try (Admin admin = Admin.create(adminProps)) {
      // The work to do: every record up to the end of each partition, as of now.
      TopicDescription topic;
      try {
        topic = admin.describeTopics(List.of(inputTopic)).allTopicNames().get().get(inputTopic);
      } catch (ExecutionException ex) {
        log("error: %s: cannot read the topic at %s: %s", inputTopic, o.bootstrap, ex.getCause().getMessage());
        return 1;
      }
      List<TopicPartition> inputPartitions = topic.partitions().stream()
          .map(p -> new TopicPartition(inputTopic, p.partition())).toList();
      Map<TopicPartition, Long> inputEnds = offsets(admin, inputPartitions, OffsetSpec.latest());
      Map<TopicPartition, Long> inputStarts = offsets(admin, inputPartitions, OffsetSpec.earliest());
      log("streams-peer: %s, %d partitions, end offsets %s; application id %s, %s, %d thread(s)",
          inputTopic, inputPartitions.size(), inputEnds.values(), o.applicationId, o.guarantee, o.threads);

      AtomicLong seen = new AtomicLong();
      Properties props = streamsConfig(o, stateDir);
      Topology topology = topology(inputTopic, seen, props);
      List<String> internalSources = internalSourceTopics(topology, inputTopic, o.applicationId);

      KafkaStreams streams = new KafkaStreams(topology, props);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicLong runningAt = new AtomicLong();
      streams.setUncaughtExceptionHandler(ex -> {
        failure.compareAndSet(null, ex);
        return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
      });
      final long started = System.nanoTime();
      streams.setStateListener((now, before) -> {
        if (now == KafkaStreams.State.RUNNING) runningAt.compareAndSet(0, System.nanoTime());
      });
      Thread hook = new Thread(() -> {
        streams.close(Duration.ofSeconds(30));
        deleteTree(stateDir);
      });
      Runtime.getRuntime().addShutdownHook(hook);

      streams.start();
      long finished = waitUntilCommitted(admin, o, inputEnds, inputStarts, internalSources, failure, seen, started);
      if (finished < 0) {
        exit = 1;
      } else {
        double seconds = (finished - started) / 1e9;
        double startup = runningAt.get() == 0 ? Double.NaN : (runningAt.get() - started) / 1e9;
        System.out.println(report(streams, o, seen.get(), seconds, startup, inputPartitions.size()));
        System.out.flush();
      }

      streams.close(Duration.ofSeconds(60));
      streams.cleanUp();
      Runtime.getRuntime().removeShutdownHook(hook);
      if (!o.keepTopics) deleteInternals(admin, o.applicationId);
    } finally {
      deleteTree(stateDir);
    }
    return exit;
  }

  static Map<TopicPartition, Long> offsets(Admin admin, List<TopicPartition> partitions, OffsetSpec spec)
      throws ExecutionException, InterruptedException {
    Map<TopicPartition, OffsetSpec> request = new HashMap<>();
    for (TopicPartition tp : partitions) request.put(tp, spec);
    var result = admin.listOffsets(request, new ListOffsetsOptions(IsolationLevel.READ_COMMITTED)).all().get();
    Map<TopicPartition, Long> out = new TreeMap<>(Comparator.comparing(TopicPartition::toString));
    result.forEach((tp, info) -> out.put(tp, info.offset()));
    return out;
  }

  /** The topology's source topics other than the input: its repartition topics, full names. */
  static List<String> internalSourceTopics(Topology topology, String inputTopic, String applicationId) {
    Set<String> out = new TreeSet<>();
    for (TopologyDescription.Subtopology sub : topology.describe().subtopologies())
      for (TopologyDescription.Node node : sub.nodes())
        if (node instanceof TopologyDescription.Source source && source.topicSet() != null)
          for (String t : source.topicSet())
            if (!t.equals(inputTopic)) out.add(t.startsWith(applicationId + "-") ? t : applicationId + "-" + t);
    return new ArrayList<>(out);
  }

  /**
   * Polls the application's committed offsets (its consumer group is the application id) until
   * every input partition's committed offset reaches the end offset read at the start, and then
   * every repartition topic's committed offset reaches that topic's end: only then has the
   * business table seen every case change. Returns System.nanoTime() at that moment, or -1 on
   * failure or time-out.
   */
  static long waitUntilCommitted(Admin admin, Options o, Map<TopicPartition, Long> inputEnds,
      Map<TopicPartition, Long> inputStarts, List<String> internalSources, AtomicReference<Throwable> failure,
      AtomicLong seen, long started) throws InterruptedException {
    final long deadline = started + TimeUnit.SECONDS.toNanos(o.timeoutSeconds);
    long nextReport = started + TimeUnit.SECONDS.toNanos(5);
    Map<TopicPartition, OffsetAndMetadata> committed = Map.of();
    while (true) {
      if (failure.get() != null) {
        log("streams-peer: the application failed: %s", failure.get());
        return -1;
      }
      long now = System.nanoTime();
      if (now > deadline) {
        log("streams-peer: not done after %d s; committed %s, ends %s", o.timeoutSeconds, committed, inputEnds);
        return -1;
      }
      if (now > nextReport) {
        log("streams-peer: %.1f s, %d records read, committed %s", (now - started) / 1e9, seen.get(),
            committed.entrySet().stream().filter(e -> inputEnds.containsKey(e.getKey()))
                .map(e -> e.getKey().partition() + ":" + e.getValue().offset()).collect(Collectors.joining(" ")));
        nextReport = now + TimeUnit.SECONDS.toNanos(5);
      }
      try {
        committed = admin.listConsumerGroupOffsets(o.applicationId).partitionsToOffsetAndMetadata().get();
        if (reached(committed, inputEnds, inputStarts)) {
          List<TopicPartition> internal = new ArrayList<>();
          var described = admin.describeTopics(internalSources).allTopicNames().get();
          described.forEach((name, d) -> d.partitions().forEach(p -> internal.add(new TopicPartition(name, p.partition()))));
          Map<TopicPartition, Long> internalEnds = offsets(admin, internal, OffsetSpec.latest());
          // A repartition topic is purged up to the committed offset, so its earliest offset
          // says nothing about what is still to do: only its end counts.
          if (reached(committed, internalEnds, Map.of())) return System.nanoTime();
        }
      } catch (ExecutionException ex) {
        // The group or the internal topics may not exist yet: try again.
      }
      Thread.sleep(20);
    }
  }

  static boolean reached(Map<TopicPartition, OffsetAndMetadata> committed, Map<TopicPartition, Long> ends,
      Map<TopicPartition, Long> starts) {
    for (var e : ends.entrySet()) {
      long end = e.getValue();
      long start = starts.getOrDefault(e.getKey(), 0L);
      if (end <= start) continue;  // nothing to read in this partition
      OffsetAndMetadata c = committed.get(e.getKey());
      if (c == null || c.offset() < end) return false;
    }
    return true;
  }

  // ---- The report: the projections' sums, read from the state stores ------------------------

  static String report(KafkaStreams streams, Options o, long records, double seconds, double startup,
      int partitions) throws InterruptedException {
    ReadOnlyKeyValueStore<String, CaseState> cases = store(streams, CASES_STORE);
    ReadOnlyKeyValueStore<String, Counters> businesses = store(streams, BUSINESSES_STORE);

    long caseCount = 0, caseEvents = 0;
    Map<String, Long> statuses = new TreeMap<>(), outcomes = new TreeMap<>(), categories = new TreeMap<>();
    try (KeyValueIterator<String, CaseState> it = cases.all()) {
      while (it.hasNext()) {
        CaseState c = it.next().value;
        caseCount++;
        caseEvents += c.events;
        statuses.merge(c.statusName(), 1L, Long::sum);
        outcomes.merge(c.outcome(), 1L, Long::sum);
        categories.merge(sazesh.schema.Category.name(c.category), 1L, Long::sum);
      }
    }
    long businessCount = 0;
    long[] sums = new long[Counters.NAMES.length];
    Map<String, Counters> perBusiness = new TreeMap<>();
    try (KeyValueIterator<String, Counters> it = businesses.all()) {
      while (it.hasNext()) {
        var kv = it.next();
        businessCount++;
        for (int i = 0; i < sums.length; i++) sums[i] += kv.value.values[i];
        if (o.perBusiness) perBusiness.put(kv.key, kv.value);
      }
    }

    Json j = new Json();
    j.field("events", records);
    j.field("seconds", seconds);
    j.field("events_per_second", seconds > 0 ? records / seconds : 0);
    j.field("cases", caseCount);
    j.field("businesses", businessCount);
    j.field("guarantee", o.guarantee);
    j.field("threads", o.threads);
    j.field("partitions", partitions);
    j.field("startup_seconds", startup);
    j.field("case_events", caseEvents);
    for (int i = 0; i < sums.length; i++) j.field(Counters.NAMES[i], sums[i]);
    j.map("status", statuses);
    j.map("outcome", outcomes);
    j.map("category", categories);
    if (o.perBusiness) {
      Json all = new Json();
      perBusiness.forEach((id, c) -> {
        Json one = new Json();
        for (int i = 0; i < Counters.NAMES.length; i++) one.field(Counters.NAMES[i], c.values[i]);
        all.raw(id, one.toString());
      });
      j.raw("per_business", all.toString());
    }
    return j.toString();
  }

  static <V> ReadOnlyKeyValueStore<String, V> store(KafkaStreams streams, String name) throws InterruptedException {
    for (int attempt = 0; ; attempt++) {
      try {
        return streams.store(StoreQueryParameters.fromNameAndType(name, QueryableStoreTypes.<String, V>keyValueStore()));
      } catch (InvalidStateStoreException ex) {
        if (attempt > 600) throw ex;  // a rebalance that never ends
        Thread.sleep(100);
      }
    }
  }

  /** A one-line JSON object, written by hand (no JSON library for seven kinds of field). */
  static final class Json {
    private final StringBuilder sb = new StringBuilder("{");

    void field(String k, long v) { key(k).append(v); }

    void field(String k, double v) {
      key(k).append(Double.isFinite(v) ? String.format(java.util.Locale.ROOT, "%.6f", v) : "null");
    }

    void field(String k, String v) { key(k); quote(v); }

    void map(String k, Map<String, Long> m) {
      Json inner = new Json();
      m.forEach((name, count) -> inner.field(name, count.longValue()));
      raw(k, inner.toString());
    }

    void raw(String k, String json) { key(k).append(json); }

    private StringBuilder key(String k) {
      if (sb.length() > 1) sb.append(", ");
      quote(k);
      return sb.append(": ");
    }

    private void quote(String s) {
      sb.append('"');
      for (char ch : s.toCharArray()) {
        if (ch == '"' || ch == '\\') sb.append('\\').append(ch);
        else if (ch < 0x20) sb.append(String.format("\\u%04x", (int) ch));
        else sb.append(ch);
      }
      sb.append('"');
    }

    @Override
    public String toString() { return sb + "}"; }
  }

  // ---- Clean-up -----------------------------------------------------------------------------

  /**
   * The run's changelog and repartition topics (named after the application id) and its
   * consumer group. KafkaStreams.close() does not make its consumers leave the group (a
   * restarted instance is meant to rejoin without a rebalance), so the members are removed
   * first, else the group could only be deleted after the session timeout.
   */
  static void deleteInternals(Admin admin, String applicationId) {
    try {
      List<String> topics = admin.listTopics().names().get().stream()
          .filter(t -> t.startsWith(applicationId + "-")).sorted().toList();
      if (!topics.isEmpty()) admin.deleteTopics(topics).all().get();
      log("streams-peer: deleted the topics %s", topics);
    } catch (ExecutionException | InterruptedException ex) {
      log("streams-peer: could not delete the internal topics of %s: %s", applicationId, ex);
    }
    try {
      try {
        admin.removeMembersFromConsumerGroup(applicationId, new RemoveMembersFromConsumerGroupOptions()).all().get();
      } catch (ExecutionException ex) {
        // No member left: nothing to remove.
      }
      admin.deleteConsumerGroups(List.of(applicationId)).all().get();
      log("streams-peer: deleted the consumer group %s", applicationId);
    } catch (ExecutionException | InterruptedException ex) {
      log("streams-peer: could not delete the consumer group %s: %s", applicationId, ex);
    }
  }

  static void deleteTree(Path root) {
    if (!Files.exists(root)) return;
    try (Stream<Path> paths = Files.walk(root)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> {
        try {
          Files.deleteIfExists(p);
        } catch (IOException ex) {
          throw new UncheckedIOException(ex);
        }
      });
    } catch (IOException | UncheckedIOException ex) {
      log("streams-peer: could not delete %s: %s", root, ex);
    }
  }

  static void log(String format, Object... args) {
    System.err.println(String.format(java.util.Locale.ROOT, format, args));
  }

  static {
    // Kafka's clients log every config at INFO; a benchmark wants warnings only (stderr).
    if (System.getProperty("org.slf4j.simpleLogger.defaultLogLevel") == null)
      System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    // It warns that the state folder is in the temp folder (on purpose) and that cleanUp() left
    // the folder it was asked to delete (this program deletes the whole tree right after).
    if (System.getProperty("org.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.StateDirectory") == null)
      System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka.streams.processor.internals.StateDirectory", "error");
  }
}
