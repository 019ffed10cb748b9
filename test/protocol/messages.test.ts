import test from 'ava';
import {
  decodeMessage,
  encodeMessage,
  encodeValue,
  envelope,
  knownTypes,
  MessageKind,
  ProtocolErrorCode,
  type Envelope,
} from '../../protocol/index.js';
import { COMMAND_SAMPLES, EVENT_SAMPLES, REPLY_SAMPLES, REQUEST_SAMPLES, TASK_SAMPLES } from './samples.js';

const SAMPLES: Record<MessageKind, Record<string, Record<string, unknown>>> = {
  command: COMMAND_SAMPLES,
  event: EVENT_SAMPLES,
  request: REQUEST_SAMPLES,
  reply: REPLY_SAMPLES,
  task: TASK_SAMPLES,
};

const wrap = (type: string, body: unknown, extra: Partial<Envelope<unknown>> = {}) => ({
  ...envelope({ id: 'msg-1', type, ts: 1_795_000_000_000, project: 'demo', user: 'alice', corr: 'cmd-0', body }),
  ...extra,
});

for (const kind of Object.values(MessageKind)) {
  test(`messages - every ${kind} type has a sample and round trips`, (t) => {
    const types = knownTypes(kind);
    t.true(types.length > 0);
    for (const type of types) {
      const body = SAMPLES[kind][type];
      t.truthy(body, `no sample for ${kind} ${type}`);
      const r = decodeMessage(encodeMessage(wrap(type, body)), kind);
      if (!r.ok) t.fail(`${kind} ${type}: ${r.error.message}`);
      else t.deepEqual(r.value, wrap(type, body), type);
    }
  });
}

test('messages - an unknown type is rejected, also when it exists for another kind', (t) => {
  const r1 = decodeMessage(encodeMessage(wrap('instance.fly', {})), MessageKind.Command);
  t.false(r1.ok);
  if (!r1.ok) t.is(r1.error.code, ProtocolErrorCode.UnknownType);
  const r2 = decodeMessage(
    encodeMessage(wrap('instance.create.end', EVENT_SAMPLES['instance.create.end'])),
    MessageKind.Command,
  );
  t.false(r2.ok);
});

test('messages - wrong version, missing and mistyped envelope fields are rejected', (t) => {
  const good = wrap('instance.stop', {});
  const cases: [string, unknown, ProtocolErrorCode][] = [
    ['v2', { ...good, v: 2 }, ProtocolErrorCode.UnsupportedVersion],
    ['no v', { ...good, v: undefined }, ProtocolErrorCode.UnsupportedVersion],
    ['no id', { ...good, id: undefined }, ProtocolErrorCode.InvalidEnvelope],
    ['id with space', { ...good, id: 'a b' }, ProtocolErrorCode.InvalidEnvelope],
    ['ts string', { ...good, ts: '1' }, ProtocolErrorCode.InvalidEnvelope],
    ['ts negative', { ...good, ts: -1 }, ProtocolErrorCode.InvalidEnvelope],
    ['project with dot', { ...good, project: 'a.b' }, ProtocolErrorCode.InvalidEnvelope],
    ['extra field', { ...good, extra: 1 }, ProtocolErrorCode.InvalidEnvelope],
    ['body array', { ...good, body: [] }, ProtocolErrorCode.InvalidEnvelope],
  ];
  for (const [name, value, code] of cases) {
    const r = decodeMessage(encodeValue(value), MessageKind.Command);
    t.false(r.ok, name);
    if (!r.ok) t.is(r.error.code, code, name);
  }
  for (const notMap of [[], 'x', 1, null]) {
    const r = decodeMessage(encodeValue(notMap), MessageKind.Command);
    t.false(r.ok);
    if (!r.ok) t.is(r.error.code, ProtocolErrorCode.InvalidEnvelope);
  }
});

test('messages - bad bodies are rejected with the offending path', (t) => {
  const cases: [string, unknown][] = [
    ['instance.boot', { flavor: 'm1.small' }],
    ['instance.boot', { name: 'x', flavor: 'm1.small', host: 'a.b' }],
    ['instance.boot', { name: 'x', flavor: 'm1.small', extra: true }],
    ['instance.boot', { name: 7, flavor: 'm1.small' }],
    ['instance.reboot', { type: 'MEDIUM' }],
    ['instance.stop', { force: true }],
    ['instance.resize', {}],
  ];
  for (const [type, body] of cases) {
    const r = decodeMessage(encodeMessage(wrap(type, body)), MessageKind.Command);
    t.false(r.ok, `${type} ${JSON.stringify(body)}`);
    if (!r.ok) {
      t.is(r.error.code, ProtocolErrorCode.InvalidInput);
      t.true(r.error.path?.startsWith('/body'));
    }
  }
});
