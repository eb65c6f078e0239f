#!/usr/bin/env node
// Drives a Kubently API with the official A2A JavaScript client
// (@a2a-js/sdk): resolves the public agent card, sends one streaming message
// with the X-API-Key header and prints every event as one JSON line, so a Go
// test can check what a third-party client sees.
//
//   node a2a-stream.mjs --url http://127.0.0.1:8080 --key KEY --query "..." \
//        [--protocol 1.0|0.3] [--cluster prod]
//
// --protocol 1.0 (default) uses the v1.0 JSON-RPC transport
// (SendStreamingMessage); 0.3 uses the SDK's v0.3 compatibility transport
// (message/stream). Output lines: {"kind":"card"|"client"|"task"|"status"|
// "artifact"|"message"|"end"|"error", ...}. Exit status 1 on any error.
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Role, TaskState } from '@a2a-js/sdk';
import {
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from '@a2a-js/sdk/client';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    key: { type: 'string' },
    query: { type: 'string' },
    protocol: { type: 'string', default: '1.0' },
    cluster: { type: 'string' },
  },
});

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

function partsOf(parts) {
  const text = [];
  const data = [];
  for (const p of parts ?? []) {
    if (p.content?.$case === 'text') text.push(p.content.value);
    if (p.content?.$case === 'data') data.push(p.content.value);
  }
  return { text: text.join(''), data };
}

function normalize(ev) {
  const p = ev.payload;
  switch (p?.$case) {
    case 'task':
      return { kind: 'task', taskId: p.value.id, contextId: p.value.contextId, state: TaskState[p.value.status?.state] };
    case 'statusUpdate': {
      const v = p.value;
      return {
        kind: 'status',
        taskId: v.taskId,
        state: TaskState[v.status?.state],
        text: partsOf(v.status?.message?.parts).text,
        metadata: v.metadata ?? null,
      };
    }
    case 'artifactUpdate': {
      const v = p.value;
      const { text, data } = partsOf(v.artifact?.parts);
      return {
        kind: 'artifact',
        taskId: v.taskId,
        artifactId: v.artifact?.artifactId,
        name: v.artifact?.name,
        append: v.append,
        lastChunk: v.lastChunk,
        metadata: v.metadata ?? null,
        text,
        data,
      };
    }
    case 'message':
      return { kind: 'message', text: partsOf(p.value.parts).text };
    default:
      return { kind: 'unknown', raw: ev };
  }
}

async function main() {
  if (!args.url || !args.key || !args.query) {
    throw new Error('usage: a2a-stream.mjs --url URL --key KEY --query TEXT [--protocol 1.0|0.3] [--cluster ID]');
  }
  const resolver = new DefaultAgentCardResolver();
  const card = await resolver.resolve(args.url);
  print({
    kind: 'card',
    name: card.name,
    streaming: card.capabilities?.streaming ?? false,
    interfaces: card.supportedInterfaces.map((i) => ({ url: i.url, binding: i.protocolBinding, version: i.protocolVersion })),
    schemes: Object.keys(card.securitySchemes ?? {}).sort(),
    skills: card.skills.map((s) => s.id),
  });

  let target = card;
  if (args.protocol === '0.3') {
    // Talk to the same endpoint with the SDK's v0.3 wire format.
    target = { ...card, supportedInterfaces: card.supportedInterfaces.map((i) => ({ ...i, protocolVersion: '0.3' })) };
  }
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ legacyCompat: { enabled: true } })],
    }),
  );
  const client = await factory.createFromAgentCard(target);
  print({ kind: 'client', protocolVersion: client.protocolVersion });

  const metadata = args.cluster ? { cluster_id: args.cluster } : undefined;
  const request = {
    tenant: '',
    message: {
      messageId: randomUUID(),
      contextId: '',
      taskId: '',
      role: Role.ROLE_USER,
      parts: [{ content: { $case: 'text', value: args.query }, metadata: undefined, filename: '', mediaType: '' }],
      metadata,
      extensions: [],
      referenceTaskIds: [],
    },
    configuration: undefined,
    metadata: undefined,
  };
  const options = { serviceParameters: { 'X-API-Key': args.key } };
  for await (const ev of client.sendMessageStream(request, options)) {
    print(normalize(ev));
  }
  print({ kind: 'end' });
}

main().catch((err) => {
  print({ kind: 'error', message: String(err?.message ?? err) });
  process.exit(1);
});
