import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { commandExists } from "./process.js";
import { resolveToolSettings } from "../config.js";

export const KAFKA_VERSION = "4.1.1";
// Kafka 4.1.1's poms still pin slf4j-api 1.7.36 (checked in kafka_2.13-4.1.1.pom), so the binding must be the
// slf4j 1.x one, log4j-slf4j-impl: log4j-slf4j2-impl is a slf4j 2 provider that slf4j 1.7 never looks for, and
// the broker would fall back to the NOP logger. 2.24.3 is the log4j-core version Kafka 4.1.1 itself depends on.
export const LOG4J_VERSION = "2.24.3";

/** Jars are cached outside the repo so clean clones and CI reruns on the same machine start in seconds. */
export function weirCacheDir(): string {
  return resolveToolSettings().cacheDir || join(homedir(), ".cache", "weir");
}

export function kafkaHome(cacheDir = weirCacheDir()): string {
  return join(cacheDir, `kafka-${KAFKA_VERSION}`);
}

/** A pom whose runtime dependencies are the jars of one cache directory. */
function pom(artifactId: string, dependencies: ReadonlyArray<readonly [group: string, artifact: string, version: string]>): string {
  const deps = dependencies
    .map(
      ([g, a, v]) => `    <dependency>\n      <groupId>${g}</groupId>\n      <artifactId>${a}</artifactId>\n      <version>${v}</version>\n    </dependency>`,
    )
    .join("\n");
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.weir</groupId>
  <artifactId>${artifactId}</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

const BROKER_POM = pom("weir-kafka-runtime", [
  ["org.apache.kafka", "kafka_2.13", KAFKA_VERSION],
  ["org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION],
  ["org.apache.logging.log4j", "log4j-core", LOG4J_VERSION],
]);

/** Kafka's own tools (ProducerPerformance for the bench's broker limit), apart from the broker's classpath. */
const TOOLS_POM = pom("weir-kafka-tools", [
  ["org.apache.kafka", "kafka-tools", KAFKA_VERSION],
  ["org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION],
  ["org.apache.logging.log4j", "log4j-core", LOG4J_VERSION],
]);

/** MirrorMaker 2 (Apache Kafka's connect-mirror, run in dedicated mode), apart from the broker's classpath. */
const MIRROR_POM = pom("weir-kafka-mirror", [
  ["org.apache.kafka", "connect-mirror", KAFKA_VERSION],
  ["org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION],
  ["org.apache.logging.log4j", "log4j-core", LOG4J_VERSION],
]);

// The marker holds a hash of the pom, so changing a version above refetches instead of reusing stale jars.
const MARKER = ".complete";
const hashOf = (text: string) => createHash("sha256").update(text).digest("hex");

function cacheIsComplete(home: string, pomText: string): boolean {
  try {
    return readFileSync(join(home, MARKER), "utf8").trim() === hashOf(pomText) && existsSync(join(home, "libs"));
  } catch {
    return false;
  }
}

export interface KafkaJars {
  libsDir: string;
  /** Java classpath wildcard for spawn args (no shell, so no quoting needed). */
  classpath: string;
}

/**
 * Makes sure the Kafka runtime jars are in the cache; a marker file makes repeat calls free.
 * mvn writes into a private temp dir that is renamed into place, so two processes racing here
 * (CLI and a test globalSetup) never see a half-copied libs dir.
 */
export function ensureKafkaJars(opts: { cacheDir?: string; log?: (msg: string) => void } = {}): Promise<KafkaJars> {
  return ensureMavenJars(kafkaHome(opts.cacheDir), BROKER_POM, `Kafka ${KAFKA_VERSION}`, opts.log);
}

/** Kafka's tools jars (kafka-tools and its dependencies), cached beside the broker's. */
export function ensureKafkaToolsJars(opts: { cacheDir?: string; log?: (msg: string) => void } = {}): Promise<KafkaJars> {
  return ensureMavenJars(join(opts.cacheDir ?? weirCacheDir(), `kafka-tools-${KAFKA_VERSION}`), TOOLS_POM, `Kafka tools ${KAFKA_VERSION}`, opts.log);
}

/** MirrorMaker 2's jars (connect-mirror and its dependencies), cached beside the broker's. */
export function ensureMirrorMakerJars(opts: { cacheDir?: string; log?: (msg: string) => void } = {}): Promise<KafkaJars> {
  return ensureMavenJars(join(opts.cacheDir ?? weirCacheDir(), `kafka-mirror-${KAFKA_VERSION}`), MIRROR_POM, `MirrorMaker ${KAFKA_VERSION}`, opts.log);
}

async function ensureMavenJars(home: string, pomText: string, what: string, log?: (msg: string) => void): Promise<KafkaJars> {
  const libsDir = join(home, "libs");
  const result = { libsDir, classpath: join(libsDir, "*") };
  if (cacheIsComplete(home, pomText)) return result;

  if (!commandExists("mvn")) throw new Error("mvn not found on PATH: apt-get install -y maven");
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, "pom.xml"), pomText);
  const tmpLibs = join(home, `libs.tmp-${process.pid}`);
  rmSync(tmpLibs, { recursive: true, force: true });
  log?.(`fetching ${what} jars from Maven Central into ${libsDir} (first run only)`);
  try {
    await runMvn(home, ["-B", "-q", "dependency:copy-dependencies", "-DincludeScope=runtime", `-DoutputDirectory=${tmpLibs}`]);
    // Another process may have finished first; its result is equivalent, so keep it.
    if (!cacheIsComplete(home, pomText)) {
      rmSync(join(home, MARKER), { force: true });
      rmSync(libsDir, { recursive: true, force: true });
      renameSync(tmpLibs, libsDir);
      writeFileSync(join(home, MARKER), `${hashOf(pomText)}\n`);
    }
  } finally {
    rmSync(tmpLibs, { recursive: true, force: true });
  }
  return result;
}

function runMvn(cwd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("mvn", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const keep = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-8000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err) => reject(new Error(`mvn failed to start: ${err.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`mvn failed (exit ${code}): ${out.trim().split("\n").slice(-30).join("\n")}`));
    });
  });
}

/**
 * Log4j2 config that keeps the broker quiet: WARN and above to a file in the node's data dir.
 * Kafka's own console output (stdout) still goes to the process log for crash diagnostics.
 */
export function writeLog4jConfig(dir: string, logFile: string): string {
  const file = join(dir, "log4j2.properties");
  writeFileSync(
    file,
    [
      "status = warn",
      // No log4j shutdown hook: it races Kafka's own shutdown and prints a spurious warning; the appender flushes
      // every line anyway.
      "shutdownHook = disable",
      "appender.file.type = File",
      "appender.file.name = file",
      `appender.file.fileName = ${logFile}`,
      "appender.file.layout.type = PatternLayout",
      "appender.file.layout.pattern = [%d] %p %m (%c)%n",
      "rootLogger.level = warn",
      "rootLogger.appenderRef.file.ref = file",
      "",
    ].join("\n"),
  );
  return file;
}
