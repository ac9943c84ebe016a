/** The `weir` command line's help texts: the overview, and each command's own (`weir <command> --help`). */

export const help = `weir — edge-to-cloud streaming gateway

Usage:
  weir gateway                 run a gateway (settings from WEIR_* environment variables, see README)
  weir processor               run the stream processor jobs (WEIR_PROCESSOR_JOBS) without a gateway
  weir stack up [--data-dir D] [--with jaeger] [--brokers 3]
                               start local Kafka (KRaft) and Redis (and Jaeger) on loopback; prints WEIR_* settings
                               (--brokers 3: three brokers, replication 3, min.insync.replicas 2)
  weir stack up --regions 2    two regions (a Kafka and a Redis each) and MirrorMaker 2 between them, both ways;
                               prints region a's settings, region b's are in <data dir>/region-b/env
  weir stack down [--purge]    stop them (--purge: and delete their data)
  weir stack status            show whether they run
  weir stack restart SERVICE   stop one service (kafka, redis, jaeger) and start it again on its ports and data
  weir stack purge             stop everything and delete the stack's data
  weir relay --config F        run an edge relay on Deno (devices → store and forward → gateways; see README)
  weir schema build --proto DIR --out FILE
                               build a schema image of your .proto files (with Weir's types) for WEIR_SCHEMA_IMAGE
  weir schema check FILE [--against RUNNING]
                               whether a gateway running RUNNING (default WEIR_SCHEMA_IMAGE) would take FILE on SIGHUP
  weir topics                  Weir's topics: partitions, records, and each consumer group's lag
  weir demo [--events N]       stack up, start a gateway, stream sample traffic, print what happened
  weir demo --regions 2        scenario 3 in two regions: region a killed halfway, failover to b, fail-back
  weir send --type T [--key K] [FILE.jsonl | -]
                               publish JSON events (one per line) through a gateway; prints each event's result
  weir tail STREAM [--from F]  print a stream (results.<job>, alerts, events.<type>) as JSON lines
  weir COMMAND --help          a command's own help
  weir --help                  this text

Signals (gateway): SIGTERM/SIGINT drain and stop; SIGHUP reloads WEIR_SCHEMA_IMAGE (refused if incompatible).`;

const target = `  --url U         the gateway (default WEIR_GATEWAY_URL, ws://127.0.0.1:8080)
  --tenant T      tenant to sign in as (default WEIR_TENANT, demo)
  --api-key K     its API key (default WEIR_API_KEY, demo-key)
  --json          JSON output, one object per line`;

export const commandHelp: Record<string, string> = {
  schema: `weir schema build --proto DIR --out FILE
weir schema check FILE [--against RUNNING] [--json]

check: tells whether a gateway running the image RUNNING (default: WEIR_SCHEMA_IMAGE, else Weir's
own types) would accept FILE on SIGHUP: every event type stays accepted on the same topic, and
buf's WIRE rules hold between the two. Exit code 0 when compatible, 1 with the problems listed.`,
  topics: `weir topics [--json]

Lists Weir's topics on WEIR_KAFKA_BROKERS (weir.*, jobs' changelog and repartition topics, and
topics mirrored from other regions): partitions, records (the sum of the partitions' end
offsets), and for each consumer group reading it, its lag.`,
  send: `weir send --type T [--key K] [FILE.jsonl | -]

Publishes JSON events, one per line (from FILE, or stdin with - or no file), through a gateway.
Each line is an event of type T in Protobuf JSON, converted with the schema image
(WEIR_SCHEMA_IMAGE, else Weir's types); envelope fields go under "@weir":
  {"host":"web-1","method":"GET","path":"/","status":503,"@weir":{"id":"e-1","key":"web-1","eventTime":"2026-12-07T09:00:00Z"}}
("@weir" may also name the line's "type"). Prints each event's result in input order:
ACK, DUPLICATE, INVALID (with the code and reason), or NOT_SENT for a line that is not an event.
Exit code 0 when every event is in Kafka.

  --type T        full event type name, e.g. weir.events.v1.HttpAccessLog
  --key K         partition key of every event (default: the line's "@weir".key, else its id)
${target}`,
  tail: `weir tail STREAM [--from latest|earliest|TIME|TOKEN] [--key K] [--limit N]

Prints a stream as JSON lines through a subscription: results.<job> and alerts as the jobs wrote
them, events.<type> (types in WEIR_SUBSCRIBE_RAW_TYPES) in Protobuf JSON. With --json each line
also carries the key, kind, timestamp and resume token (--from TOKEN continues after it).

  --from F        latest (default), earliest, a time (RFC 3339 or epoch ms), or a resume token
  --key K         only this key
  --limit N       stop after N deliveries
${target}`,
};
