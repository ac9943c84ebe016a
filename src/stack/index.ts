// Public surface of the local stack manager; implementation lives in the sibling files.
export { freePort, freePorts, isPortFree, waitPortFree } from "./free-port.js";
export { KAFKA_VERSION, LOG4J_VERSION, type KafkaJars, ensureKafkaJars, kafkaHome, weirCacheDir } from "./kafka-jars.js";
export {
  type KafkaNodeOptions,
  kafkaBrokers,
  kafkaHealthy,
  kafkaJvmArgs,
  kafkaPaths,
  kafkaPid,
  startKafkaNode,
  stopKafkaNode,
} from "./kafka-node.js";
export { type RedisNodeOptions, redisPaths, redisPid, redisPing, redisUrl, startRedisNode, stopRedisNode } from "./redis-node.js";
export type { StopResult } from "./process.js";
export {
  type KafkaServiceInfo,
  type RedisServiceInfo,
  type StackInfo,
  type StackOptions,
  defaultDataDir,
  STACK_SERVICES,
  type StackService,
  stackDown,
  stackEnvLines,
  stackRestart,
  stackStatus,
  stackUp,
} from "./stack.js";
export { type StopOptions, type TestStack, type TestStackOptions, startTestStack } from "./test-stack.js";
export {
  MIRRORED_TOPICS,
  mirrorMakerPaths,
  mirrorMakerPid,
  mm2Properties,
  startMirrorMaker,
  stopMirrorMaker,
  type MirrorMakerOptions,
  type MirrorRegion,
} from "./mirror-maker.js";
export { type RegionInfo, regionDir, regionsDown, regionsIn, regionsStatus, regionsUp } from "./regions.js";
export { JAEGER_VERSION, ensureJaegerBinary, jaegerBinary } from "./jaeger-node.js";
export { type TestJaeger, startTestJaeger } from "./test-jaeger.js";
