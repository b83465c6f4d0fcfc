// Send control-system events to streamtune from Node.js with kafkajs.
//
//   npm install
//   KAFKA_BROKERS=localhost:9094 node producer.js sample-events.jsonl
//
// Each line of the JSONL file is one event. It is checked against streamtune's
// JSON Schema for its kind (docs/schemas/<kind>.schema.json, written by
// `streamtune schemas export`), given an event_id if it has none, and sent to
// raw.<source> keyed by session_id with an idempotent producer (acks=all).
// Invalid lines are reported as FILE:LINE: reason and skipped; the worker would
// dead-letter them anyway, but a producer that checks first sees its bugs at once.
"use strict";

const crypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const readline = require("node:readline");
const Ajv2020 = require("ajv/dist/2020");
const addFormats = require("ajv-formats");
const { Kafka, Partitioners, logLevel } = require("kafkajs");

// Event kind -> source name in topic names (streamtune/schemas/topics.py, SOURCES).
const SOURCES = {
  command: "commands",
  error: "errors",
  feedback: "feedback",
  correction: "corrections",
  trace: "traces",
  metric: "metrics",
  performance: "performance",
  error_state: "error_states",
};
const MAX_EVENT_BYTES = 64 * 1024; // the worker dead-letters anything larger

const brokers = (process.env.KAFKA_BROKERS || "localhost:9094").split(",");
const prefix = process.env.STREAMTUNE_TOPICS__PREFIX || "";
const schemasDir = process.env.SCHEMAS_DIR || path.join(__dirname, "..", "..", "docs", "schemas");

function loadValidators() {
  // strict: false because pydantic's schemas carry a few annotation keywords ajv does not know.
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  const validators = {};
  for (const kind of Object.keys(SOURCES)) {
    const file = path.join(schemasDir, `${kind}.schema.json`);
    validators[kind] = ajv.compile(JSON.parse(fs.readFileSync(file, "utf8")));
  }
  return validators;
}

// Parse and check one line; return {event} or {reason}.
function check(line, validators) {
  if (Buffer.byteLength(line) > MAX_EVENT_BYTES) return { reason: `event: larger than ${MAX_EVENT_BYTES} bytes` };
  let event;
  try {
    event = JSON.parse(line);
  } catch (err) {
    return { reason: `event: not valid JSON (${err.message})` };
  }
  if (event === null || typeof event !== "object" || Array.isArray(event)) return { reason: "event: must be a JSON object" };
  const validate = validators[event.kind];
  if (!validate) return { reason: `kind: unknown event kind ${JSON.stringify(event.kind)}` };
  // The event_id is the event's identity: set it once, before the first send, and
  // keep it on every resend so streamtune stores the event once.
  if (!event.event_id) event.event_id = crypto.randomUUID();
  if (!validate(event)) {
    const e = validate.errors[0];
    return { reason: `${e.instancePath.replace(/^\//, "").replace(/\//g, ".") || "event"}: ${e.message}` };
  }
  return { event };
}

async function main() {
  const file = process.argv[2] || path.join(__dirname, "sample-events.jsonl");
  const validators = loadValidators();
  const byTopic = new Map();
  let lineNo = 0;
  let invalid = 0;
  const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of lines) {
    lineNo += 1;
    if (!line.trim()) continue;
    const { event, reason } = check(line, validators);
    if (reason) {
      invalid += 1;
      console.error(`${file}:${lineNo}: ${reason}`);
      continue;
    }
    const topic = `${prefix}raw.${SOURCES[event.kind]}`;
    if (!byTopic.has(topic)) byTopic.set(topic, []);
    byTopic.get(topic).push({
      key: event.session_id, // one session's events stay in order, on one partition
      value: JSON.stringify(event),
      headers: {
        kind: event.kind,
        schema_version: String(event.schema_version || 2),
        event_id: event.event_id,
        "content-type": "application/json",
      },
    });
  }

  const kafka = new Kafka({ clientId: "control-system-node", brokers, logLevel: logLevel.WARN });
  // Idempotent: a retried batch is written once per partition; kafkajs requires one request in
  // flight for it. The default partitioner is Java's murmur2 (librdkafka's murmur2_random).
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  let sent = 0;
  try {
    const topicMessages = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    if (topicMessages.length) {
      const results = await producer.sendBatch({ acks: -1, topicMessages });
      sent = [...byTopic.values()].reduce((n, messages) => n + messages.length, 0);
      for (const r of results) console.log(`${r.topicName}[${r.partition}] base offset ${r.baseOffset}`);
    }
  } finally {
    await producer.disconnect();
  }
  console.log(`sent ${sent} events, ${invalid} invalid`);
  process.exitCode = invalid ? 1 : 0;
}

main().catch((err) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
