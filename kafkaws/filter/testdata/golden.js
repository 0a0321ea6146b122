// Generates golden.json: what dojot's own kafka-ws code answers for each
// (fields, where, value) case. Run from a checkout of
// dojot/dojot:subscription-engine/kafka-ws with its pinned dependencies
// (flat 5.0.2, json-mask 1.0.4, lodash 4.17.21, moo 0.5.1, nearley 2.20.1,
// Parser.js compiled by `npm run parser:compile`, @dojot/microservice-sdk
// and crypto-js stubbed):
//
//	KAFKA_WS=/path/to/kafka-ws node golden.js > golden.json
//
// It replays WebsocketTarball.onConnection (where parsing, error codes),
// KafkaTopicsConsumerCallbacksMgmt (JSON.parse of the value) and
// createCallbackSendMessage (ProcessingRule, isObjectEmpty, JSON.stringify).
const path = require('path');

const app = path.join(process.env.KAFKA_WS, 'app');
const { WhereParser } = require(path.join(app, 'WhereProcessing'));
const { WSError } = require(path.join(app, 'Errors')).Errors;
const { processRule } = require(path.join(app, 'ProcessingRule', 'ProcessingRule'));
const { isObjectEmpty } = require(path.join(app, 'Utils'));

const whereParser = WhereParser();

function run(source, fields, where, value) {
  const c = { source, fields, where, value };
  let conditions;
  try {
    conditions = whereParser(where === '' ? undefined : where);
  } catch (error) {
    if (error instanceof WSError) {
      c.code = error.ws_code;
      c.reason = error.ws_reason;
    } else {
      c.code = 4999; // ws.close(ErrorCodes.INTERNAL, 'Internal error')
      c.reason = 'Internal error';
      // nearley wraps the lexer's InvalidOperator into a plain Error.
      c.cause = String(error.message).includes('lexer error') ? 'operator' : 'syntax';
    }
    return c;
  }
  const rule = processRule(fields === '' ? undefined : fields, conditions);
  try {
    const payload = JSON.parse(Buffer.from(value).toString());
    const filtered = rule(payload);
    if (!isObjectEmpty(filtered)) {
      c.out = JSON.stringify(filtered);
    }
  } catch (error) {
    c.threw = true;
  }
  return c;
}

const cases = [];
const add = (source, fields, where, value) => cases.push(run(source, fields, where, value));

// CONTRACT.md section 7 and checklist item 16.
const dev = '{"metadata":{"deviceid":"a1998e","tenant":"admin","timestamp":1600000000000},"attrs":{"temperature":22.5,"humidity":40}}';
add('CONTRACT.md', '', 'temperature=gte:20;', '{"temperature":25,"rain":1}');
add('CONTRACT.md', '', 'temperature=gte:20;', '{"temperature":19.9,"rain":1}');
add('CONTRACT.md', 'attrs/temperature', '', dev);
add('CONTRACT.md', 'attrs/temperature', 'attrs.temperature=gte:20;', dev);
add('CONTRACT.md', '', 'x=foo:1;', dev);
add('CONTRACT.md', 'a,b', '', '{"b":1,"a":2,"c":3}');
add('CONTRACT.md', 'a(b,c)', '', '{"a":{"c":1,"b":2,"d":3}}');
add('CONTRACT.md', 'a/*/c', '', '{"a":{"x":{"c":1,"d":2},"y":{"d":3},"z":5}}');
add('CONTRACT.md', 'nothing', '', dev);
add('CONTRACT.md', 'attrs/nothing', '', dev);

// kafka-ws README.md examples.
const readme = '{"attrs":{"temperature":20,"rain":10.5},"metadata":{"tenant":"admin"}}';
for (const f of ['attrs,metadata', 'metadata/tenant', 'attrs(temperature,rain)', 'attrs/*', 'attrs/humidity']) {
  add('README.md fields', f, '', readme);
}
const ab = '{"a":"foo","b":"bar"}';
for (const w of ['a=in:bar,baz;', 'b=in:ar;', 'a=nin:bar,baz;', 'b=nin:ar;']) add('README.md set operators', '', w, ab);
for (const w of ['rain=10;', 'rain=eq:11;', 'rain=neq:11;', 'rain=gt:10;', 'rain=gte:10;', 'rain=lt:10;', 'rain=lte:10;']) {
  add('README.md arithmetic operators', '', w, '{"rain":10,"temperature":30.0}');
}
for (const [w, v] of [['sensors.rain.enabled=bool:true;', true], ['sensors.rain.enabled=bool:false;', true], ['sensors.rain.enabled=bool:false;', false]]) {
  add('README.md boolean operators', '', w, `{"sensors":{"rain":{"enabled":${v}}}}`);
}
add('README.md URI examples', 'sensor/status,temperature', 'sensor.status=in:failed,stopped;', '{"sensor":{"status":"failed","x":1},"temperature":35,"other":1}');
add('README.md URI examples', 'temperature,location', '', '{"temperature":35,"location":"x","other":1}');
add('README.md URI examples', '', 'temperature=gte:5.0;temperature=lt:10.0;', '{"temperature":7}');
add('README.md URI examples', '', 'temperature=gte:5.0;temperature=lt:10.0;', '{"temperature":10}');
add('README.md URI examples', 'temperature,rain', 'rain=lte:15;', '{"temperature":7,"rain":15,"x":1}');
add('README.md URI examples', 'attrs/ brake signal 1 ', 'attrs. brake signal 1 =gte:0.0;', '{"attrs":{" brake signal 1 ":0.5,"x":1}}');

// test/integration/Conditions.test.js (values as JSON messages).
const sensor = (s) => `{"sensor":{"status":"${s}"},"temperature":35}`;
add('Conditions.test.js in', '', 'sensor.status=in:failed,stopped;', sensor('failed'));
add('Conditions.test.js in', '', 'sensor.status=in:failed,stopped;', sensor('started'));
add('Conditions.test.js nin', '', 'sensor.status=nin:failed,stopped;', sensor('failed'));
add('Conditions.test.js nin', '', 'sensor.status=nin:failed,stopped;', sensor('started'));
for (const op of ['gte', 'gt', 'lte', 'lt', 'eq', 'neq']) {
  for (const t of ['0', '-0.001', '0.001', 'null', '1', '-1', '"0"', '"x"', 'true', '[]', '{}']) {
    add(`Conditions.test.js ${op}`, '', `temperature=${op}:0;`, `{"location":"x","temperature":${t}}`);
  }
  add(`Conditions.test.js ${op}`, '', `temperature=${op}:0;`, '{"location":"x"}');
}
for (const want of ['true', 'false', '1', '0']) {
  for (const got of ['true', 'false', '1', '0', '"TRUE"', '" 0 "', '"yes"', 'null', '2']) {
    add('Conditions.test.js bool', '', `enabled=bool:${want};`, `{"location":"x","enabled":${got}}`);
  }
}

// test/integration/WhereProcessing.test.js and test/unit/OperatorValidators.test.js.
for (const w of ['sensor.status=in:failed,stopped;', 'temperature=gte:20;', 'temperature=gte:20,10;',
  'temperature=gte:x;', 'status=itn:failed;', 'hi)', 'sensor.status=in:"failed",stopped;',
  'sensor.status=in:"fa\\S\\iled",stop\\ped;', 'ab=bool:;', 'ab=bool:true;', 'ab=in:TEST;', 'ab=gt:158;', 'ab=gt:;']) {
  add('WhereProcessing.test.js / OperatorValidators.test.js', '', w, '{"sensor":{"status":"failed"},"temperature":20,"status":"failed"}');
}

// Edge cases read from the sources (Lexer.js, WhereParser.js, flat, json-mask).
const edges = [
  ['', 'a=5;', '{"a":5}'], ['', 'ab=5', '{"ab":5}'], ['', 'ab=gt:', '{}'], ['', 'ab=b=c;', '{}'],
  ['', 'ab=in:x:y;', '{}'], ['', 'ab=in:;', '{}'], ['', 'ab=in:,;', '{"ab":"q"}'], ['', 'ab=in:,;', '{"ab":""}'],
  ['', 'a[0]]=1;', '{"a[0]]":1}'], ['', 'ab=in:"a,b",c;', '{"ab":"xa,by"}'], ['', 'ab=in:"a\\q";', '{}'],
  ['', 'ab=in:"a\\tb";', '{"ab":"a\\tb"}'], ['', 'ab=in:"a\\"b";', '{"ab":"a\\"b"}'], ['', 'ab=gt:0x10;', '{"ab":17}'],
  ['', 'ab=gt:1,2;', '{}'], ['', 'ab=bool:yes;', '{}'], ['', 'ab=gt: ;', '{"ab":1}'], ['', 'ab=eq:5;cd=neq:3;', '{"ab":5,"cd":4}'],
  ['', 'ab=gt:5;;', '{}'], ['', 'ab=ab=5;', '{}'], ['', 'ab=on;', '{"ab":"on"}'], ['', 'ab=5;\n', '{}'],
  ['', 'ab=in:a.c;', '{"ab":"abc"}'], ['', 'ab=in:^b;', '{"ab":"abc"}'], ['', 'ab=in:c$;', '{"ab":"abc"}'],
  ['', 'ab=in:(;', '{"ab":"abc"}'], ['', 'ab=nin:(;', '{"ab":"abc"}'], ['', 'ab=nin:(;', '{"ab":""}'],
  ['', 'ab=in:1;', '{"ab":10}'], ['', 'ab=in:true;', '{"ab":true}'], ['', 'ab=in:e+21;', '{"ab":1e21}'],
  ['', 'ab=in:\\d{3};', '{"ab":"x123"}'], ['', 'ab=in:[a-c]x;', '{"ab":"bx"}'], ['', 'ab=in:a{;', '{"ab":"a{"}'],
  ['', 'ab=in:object;', '{"ab":{}}'], ['', 'ab=in:;', '{"ab":[]}'], ['', 'ab=nin:x;', '{"cd":1}'],
  ['', 'ab.0=eq:1;', '{"ab":[1,2]}'], ['', 'ab.1.c=eq:2;', '{"ab":[1,{"c":2}]}'], ['', 'ab=eq:1;', '{"ab":[1]}'],
  ['', 'ab=eq:0;', '{"ab":[]}'], ['', 'ab=eq:0;', '{"ab":""}'], ['', 'ab=eq:0;', '{"ab":" "}'], ['', 'ab=eq:16;', '{"ab":"0x10"}'],
  ['', 'a.b=eq:1;', '{"a.b":1,"c":2}'], ['', 'a.b=eq:1;', '{"a":{"b":1},"a.b":2}'], ['', 'ab=eq:1;', '{"ab":1,"x":{"1":"y"}}'],
  ['', 'ab=eq:1;', '{"ab":1,"x":{"b":1,"0":"y"}}'], ['', 'ab=eq:1;', '{"ab":1,"x":{"":"y"}}'], ['', 'ab=eq:1;', '{"ab":1,"1e3":{"a":1}}'],
  ['', 'ab=eq:1;', '{"ab":1,"toString":{"a":1}}'], ['', 'toString=in:native;', '{"ab":1}'], ['', 'ab=eq:1;', '{"ab":1,"__proto__":{"a":1}}'],
  ['', 'ab=eq:1;', '{"b":1,"5":2,"ab":1,"2":3}'], ['', '0=in:a;', '"abc"'], ['', '0=in:a;', '["abc"]'], ['', '0.ab=eq:1;', '[{"ab":1}]'],
  ['', 'ab=eq:1;', 'null'], ['', 'ab=eq:1;', '5'], ['', 'ab=eq:1;', 'true'], ['', 'ab=eq:1;', '[]'], ['', 'ab=eq:1;', '{}'],
  ['', 'ab=eq:1;', 'not json'], ['', 'ab=nin:x;', '"ab"'],
  ['a', '', 'null'], ['a', '', '5'], ['a', '', '"abc"'], ['0', '', '"abc"'], ['a', '', '[1,2]'], ['a', '', '[{"a":1},{"b":2}]'],
  ['a', '', '[]'], ['a', '', '{}'], [',', '', '{"a":1}'], [',', '', '[{"a":1}]'], ['a/b', '', '{"a":5}'], ['a/b', '', '{"a":null}'],
  ['a/b', '', '{"a":"str"}'], ['a/length', '', '{"a":"str"}'], ['a/0', '', '{"a":"str"}'], ['a/length', '', '{"a":[1,2]}'],
  ['a(b)', '', '{"a":[{"b":1,"c":2},{"c":3},5,null]}'], ['a/b', '', '{"a":[{"b":1,"c":2},{"c":3}]}'], ['a()', '', '{"a":[1,2]}'],
  ['*', '', '{"b":1,"a":2}'], ['*/x', '', '{"b":{"x":1,"y":2},"a":3}'], ['a/*', '', '{"a":[{"x":1},{"y":2}]}'], ['a,*', '', '{"b":1,"a":2}'],
  ['b,a,2,1', '', '{"a":1,"b":2,"1":3,"2":4}'], ['a, b', '', '{"a":1," b":2,"b":3}'], ['/a,b', '', '{"a":1,"b":2}'], ['a/', '', '{"a":{"b":1}}'],
  ['a)', '', '{"a":1}'], ['(a', '', '{"a":1}'], ['a/b/c', '', '{"a":{"b":{"c":null,"d":1}}}'], ['a,a/b', '', '{"a":{"b":1,"c":2}}'],
  ['constructor', '', '{"a":1}'], ['toString', '', '{"a":1}'], ['__proto__', '', '{"a":1}'], ['__proto__', '', '{"__proto__":1,"a":1}'], ['*', '', '{"__proto__":1,"a":1}'],
  ['a', '', '{"a":1.0,"b":2}'], ['a', '', '{"a":1e21}'], ['a', '', '{"a":1e-7}'], ['a', '', '{"a":123456789012345678901234567890}'],
  ['a', '', '{"a":-0}'], ['a', '', '{"a":1e400}'], ['a', '', '{"a":0.1}'], ['a', '', '{"a":1.5e300}'], ['a', '', '{"a":5e-324}'],
  ['a', '', '{"a":"\\u2028<>&\\u00e9\\ud83d\\ude00\\ud800\\u0001\\u007f"}'], ['a', '', '{"a":1,"a":2}'], ['a', '', ' {"a" : [ 1 , 2 ] } '],
  ['a', '', '{"a":1}x'], ['a', '', '{"a":01}'], ['a', '', '{"a":1.}'], ['a', '', "{'a':1}"], ['a', '', '{"a":"\t"}'],
  ['a', 'ab=eq:1;', '{"ab":1,"a":{"1":"x","b":2}}'], ['a', 'ab=eq:1;', '{"ab":1,"a":{"b.c":1}}'],
  ['a/b', 'ab=eq:1;', '{"ab":1,"a":[{"b":1}]}'], ['x', 'ab=eq:1;', '{"ab":1}'],
];
for (const [f, w, v] of edges) add('edge cases (source reading)', f, w, v);

// Seeded random cases built from the same pieces, to catch what the
// hand-written ones miss.
let seed = Number(process.env.SEED || 12345);
const rnd = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
const pick = (a) => a[rnd(a.length)];
const keys = ['ab', 'cd', 'x y', '0', '1', 'a.b', 'e', 'temperature', 'toString', '', '10', 'b-c'];
const scalars = ['1', '0', '-2.5', '1e21', '"abc"', '""', '"0x1f"', '"TRUE"', 'true', 'false', 'null', '[]', '{}', '" 12 "', '"fa.led"'];
function genValue(depth) {
  const r = rnd(depth > 2 ? 3 : 6);
  if (r < 3) return pick(scalars);
  if (r === 3) {
    const n = rnd(4);
    return `[${Array.from({ length: n }, () => genValue(depth + 1)).join(',')}]`;
  }
  const n = rnd(5);
  return `{${Array.from({ length: n }, () => `${JSON.stringify(pick(keys))}:${genValue(depth + 1)}`).join(',')}}`;
}
const selectors = ['ab', 'cd', 'ab.cd', 'ab.0', 'x y', 'a.b', 'ab.1.cd', 'temperature', 'cd.ab', '10'];
const ops = ['', 'eq:', 'neq:', 'gt:', 'gte:', 'lt:', 'lte:', 'in:', 'nin:', 'bool:'];
const vals = ['1', '0', '-2.5', 'abc', 'a.c', 'true', '1,2', '"x,y"', 'fa', '0x1f', '12', 'TRUE', '', 'e'];
const fieldsPieces = ['ab', 'cd', 'ab/cd', 'ab(cd,0)', '*', '*/cd', 'ab/*', '0', 'x y', 'a.b', '10', 'ab/1'];
for (let i = 0; i < Number(process.env.N || 600); i++) {
  const fields = rnd(3) === 0 ? '' : Array.from({ length: 1 + rnd(2) }, () => pick(fieldsPieces)).join(',');
  const where = rnd(3) === 0 ? '' : Array.from({ length: 1 + rnd(2) }, () => `${pick(selectors)}=${pick(ops)}${pick(vals)};`).join('');
  const top = rnd(10) === 0 ? genValue(3) : genValue(0).replace(/^[^{].*/s, (v) => `{"ab":${v}}`);
  add('seeded random', fields, where, top);
}

process.stdout.write(`${JSON.stringify(cases, null, 1)}\n`);
