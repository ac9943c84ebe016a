/**
 * Several KRaft nodes on loopback, each broker and controller, with a static quorum: the 3-broker
 * stack (`weir stack up --brokers 3`, the chaos suite). Every topic gets three replicas and two in
 * sync (clusterReplication), so an acked record survives the loss of any one broker.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KafkaJars } from "./kafka-jars.js";
import { kafkaBrokers, kafkaPid, newClusterId, startKafkaNode, stopKafkaNode, type KafkaNodeOptions } from "./kafka-node.js";
import type { StopResult } from "./process.js";

export type KafkaClusterPorts = readonly {
  readonly port: number;
  readonly controllerPort: number;
  /** A FRONT listener behind a proxy (KafkaNodeOptions.front). */
  readonly front?: { readonly port: number; readonly advertisedPort: number };
}[];

export interface KafkaClusterOptions {
  /** Holds the cluster id and one directory per node (node-1, node-2, ...). */
  dir: string;
  nodes: KafkaClusterPorts;
  jars?: KafkaJars;
  quickStart?: boolean;
  heap?: string;
}

export const clusterNodeDir = (dir: string, index: number) => join(dir, `node-${index + 1}`);

/** Each node's options: same cluster id (kept in `<dir>/cluster-id`), node ids 1..n, the quorum of all. */
export function clusterNodeOptions(opts: KafkaClusterOptions): KafkaNodeOptions[] {
  mkdirSync(opts.dir, { recursive: true });
  const idFile = join(opts.dir, "cluster-id");
  const clusterId = existsSync(idFile) ? readFileSync(idFile, "utf8").trim() : newClusterId();
  writeFileSync(idFile, `${clusterId}\n`);
  const voters = opts.nodes.map((n, i) => ({ id: i + 1, controllerPort: n.controllerPort }));
  return opts.nodes.map((n, i) => ({
    dir: clusterNodeDir(opts.dir, i),
    port: n.port,
    controllerPort: n.controllerPort,
    ...(n.front ? { front: { ...n.front } } : {}),
    ...(opts.jars ? { jars: opts.jars } : {}),
    ...(opts.quickStart ? { quickStart: true } : {}),
    ...(opts.heap ? { heap: opts.heap } : {}),
    cluster: { nodeId: i + 1, voters, clusterId },
  }));
}

/** Starts every node not running, together (a node serves metadata only once a quorum of controllers is up). */
export async function startKafkaCluster(opts: KafkaClusterOptions): Promise<void> {
  await Promise.all(clusterNodeOptions(opts).map((node) => startKafkaNode(node)));
}

export async function stopKafkaCluster(dir: string, nodes: number, opts: { timeoutMs?: number; jars?: KafkaJars } = {}): Promise<StopResult[]> {
  return Promise.all(Array.from({ length: nodes }, (_, i) => stopKafkaNode(clusterNodeDir(dir, i), opts)));
}

export const clusterBrokers = (nodes: KafkaClusterPorts) => nodes.map((n) => kafkaBrokers(n.port));

export const clusterPids = (dir: string, nodes: number) => Array.from({ length: nodes }, (_, i) => kafkaPid(clusterNodeDir(dir, i)));
