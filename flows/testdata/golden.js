// Generates golden.json: what the JavaScript dojot's flowbroker runs on
// answers for the cases below, for TestGolden (golden_test.go). Run with the
// versions flowbroker v0.8.0's package-lock.json pins:
//
//	npm install handlebars@4.7.6 mustache@2.3.2 geolib@2.0.24 lodash@4.17.21
//	node golden.js > golden.json
//
// template: dojot's template node (orchestrator/nodes/template/index.js):
// a JSON copy of msg plus payloadMetadata, its stringify and parseAndSelect
// helpers. switch: dojot's switch node's handleMessage, operators and value
// typing copied from orchestrator/nodes/switch/index.js. geo: geolib 2's
// isPointInside and the geo node's lat,lng pattern. merge: lodash merge, as
// the merge data node uses it. js: Number(), String() and the relational
// operators on message values.
const handlebars = require('handlebars');
const mustache = require('mustache');
const geolib = require('geolib');
const _ = require('lodash');

handlebars.registerHelper('stringify', (c) => JSON.stringify(c));
handlebars.registerHelper('parseAndSelect', (c, k) => JSON.stringify(JSON.parse(c)[k]) + '}');

const out = [];
const meta = { flowId: 'f1', tenant: 'admin', originatorDeviceId: 'dev1', timestamp: 1623163659936 };
const msg = {
  payload: {
    data: { id: 'a1b2c3', attrs: { temperature: 35, zero: 0, neg: -2.5, big: 1e21, small: 1e-7, frac: 0.1,
      str: 'it\'s <b>"5"</b> & `x`=/y', empty: '', t: true, f: false, nil: null,
      list: [1, 'two', null, { x: 3 }, [4, 5]], objs: [{ n: 'a' }, { n: 'b' }], none: [], obj: { k: 1, o: { deep: 'd' } },
      json: '{"a":[1,2],"b":"x"}' } },
    metadata: { timestamp: 1623163659936, tenant: 'admin' },
  },
  url: 'http://example/x',
};
out.push({ kind: 'context', msg, meta });
const templates = [
  '{{payload.data.attrs.temperature}}|{{payload.data.attrs.zero}}|{{payload.data.attrs.neg}}|{{payload.data.attrs.big}}|{{payload.data.attrs.small}}|{{payload.data.attrs.frac}}',
  '{{payload.data.attrs.str}}|{{{payload.data.attrs.str}}}|{{&payload.data.attrs.str}}',
  '[{{payload.data.attrs.empty}}][{{payload.data.attrs.t}}][{{payload.data.attrs.f}}][{{payload.data.attrs.nil}}][{{payload.data.attrs.missing}}][{{nope.deeper}}]',
  '{{payload.data.attrs.list}}|{{payload.data.attrs.obj}}|{{payload.data.attrs.none}}|{{payload.data.attrs.objs}}',
  '{{payload.data.attrs.list.0}}|{{payload.data.attrs.list.3.x}}|{{payload.data.attrs.list.length}}|{{payload.data.attrs.str.length}}',
  '{{#payload.data.attrs.list}}<{{.}}>{{/payload.data.attrs.list}}',
  '{{#payload.data.attrs.objs}}({{n}}:{{payload.data.id}}){{/payload.data.attrs.objs}}',
  '{{#payload.data.attrs.obj}}{{k}}-{{o.deep}}{{/payload.data.attrs.obj}}',
  '{{#payload.data.attrs.t}}yes{{/payload.data.attrs.t}}{{#payload.data.attrs.f}}no{{/payload.data.attrs.f}}{{^payload.data.attrs.f}}notf{{/payload.data.attrs.f}}{{^payload.data.attrs.none}}empty{{/payload.data.attrs.none}}{{#payload.data.attrs.zero}}z{{/payload.data.attrs.zero}}{{^payload.data.attrs.zero}}notz{{/payload.data.attrs.zero}}',
  '{{#payload.data.attrs.temperature}}[{{.}}]{{/payload.data.attrs.temperature}}{{#payload.data.attrs.empty}}e{{/payload.data.attrs.empty}}{{#payload.data.attrs.str}}s{{/payload.data.attrs.str}}',
  '{{payloadMetadata.flowId}} {{payloadMetadata.tenant}} {{payloadMetadata.originatorDeviceId}} {{payloadMetadata.timestamp}}',
  '{"metadata":{"priority":"low"},"message":"Temp {{payload.data.attrs.temperature}} too high"}',
  'a{{! comment }}b',
  '{{{url}}}/{{payload.data.id}}',
];
const hbOnly = [
  '{{{stringify payload.data.attrs.obj}}}|{{stringify payload.data.attrs.list}}|{{{stringify payload.data.attrs.str}}}|{{{stringify payload.data.attrs.missing}}}|{{{stringify payload.data.attrs.nil}}}|{{{stringify payload.data.attrs.big}}}',
  '{{{parseAndSelect payload.data.attrs.json "a"}}}|{{{parseAndSelect payload.data.attrs.json "b"}}}|{{{parseAndSelect payload.data.attrs.json "c"}}}|{{parseAndSelect payload.data.attrs.json "b"}}',
  '{{#each payload.data.attrs.list}}{{@index}}:{{this}};{{/each}}',
  '{{#each payload.data.attrs.objs}}{{@index}}{{n}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}}{{../payload.data.id}};{{/each}}',
  '{{#each payload.data.attrs.obj}}{{@key}}={{this}};{{/each}}{{#each payload.data.attrs.none}}x{{else}}none{{/each}}',
  '{{#if payload.data.attrs.zero}}a{{else}}b{{/if}}{{#if payload.data.attrs.none}}c{{else}}d{{/if}}{{#if payload.data.attrs.list}}e{{/if}}{{#unless payload.data.attrs.t}}f{{else}}g{{/unless}}',
  '{{#with payload.data}}{{id}}/{{attrs.temperature}}/{{../url}}{{/with}}{{#with payload.data.attrs.missing}}x{{else}}nothing{{/with}}',
  '{{#payload.data.attrs.t}}{{payload.data.id}}{{/payload.data.attrs.t}}',
  '{{this.url}} {{{stringify payloadMetadata}}}',
  '{{payload.data.attrs.list.[0]}}|{{payload.data.attrs.list.[3].x}}|{{#each payload.data.attrs.list.[4]}}{{this}}{{/each}}',
  '{{#payload.data.attrs.empty}}[{{.}}]{{/payload.data.attrs.empty}}{{^payload.data.attrs.empty}}E{{/payload.data.attrs.empty}}{{#payload.data.attrs.nil}}N{{else}}n{{/payload.data.attrs.nil}}',
  '{{#each payloadMetadata}}{{@key}}={{this}},{{/each}}',
];
const muOnly = [
  '{{#payload.data.attrs.objs}}{{#payload.data.attrs.t}}{{n}}{{/payload.data.attrs.t}}{{/payload.data.attrs.objs}}',
  '{{#payload.data.attrs.obj}}{{#o}}{{deep}}{{k}}{{url}}{{/o}}{{/payload.data.attrs.obj}}',
];
function render(syntax, template) {
  const full = JSON.parse(JSON.stringify(msg));
  full.payloadMetadata = JSON.parse(JSON.stringify(meta));
  try {
    const text = syntax === 'handlebars' ? handlebars.compile(template)(full) : mustache.render(template, full);
    out.push({ kind: 'template', syntax, template, out: text });
  } catch (e) {
    out.push({ kind: 'template', syntax, template, error: String(e.message) });
  }
}
for (const t of templates) { render('handlebars', t); render('mustache', t); }
for (const t of hbOnly) render('handlebars', t);
for (const t of muOnly) render('mustache', t);

// switch: dojot's code
const operators = {
  'eq': (a, b) => a === b, 'neq': (a, b) => a !== b, 'lt': (a, b) => a < b, 'lte': (a, b) => a <= b,
  'gt': (a, b) => a > b, 'gte': (a, b) => a >= b, 'btwn': (a, b, c) => a >= b && a <= c,
  'cont': (a, b) => (a + "").indexOf(b) !== -1, 'regex': (a, b, c, d) => (a + "").match(new RegExp(b, d ? 'i' : '')),
  'true': (a) => a === true, 'false': (a) => a === false,
  'null': (a) => (typeof a === "undefined" || a === null), 'nnull': (a) => (typeof a !== "undefined" && a !== null),
  'else': (a) => a === true,
};
function get(field, target) {
  const source = field.match(/([^.]+)/g); let at = source.shift(); let data = target;
  while (at) { if (!data.hasOwnProperty(at)) return undefined; data = data[at]; at = source.shift(); }
  return data;
}
const getTyped = (v, t) => (t === 'num' ? Number(v) : v);
const getType = (v) => (!isNaN(Number(v)) ? 'num' : 'str');
function ruleValue(m, v, vt) {
  if (vt === 'msg') { const r = get(v, m); return getTyped(r, getType(r)); }
  if (typeof v !== 'undefined') return getTyped(v, vt);
  return undefined;
}
function runSwitch(config, m) {
  const value = get(config.property, m);
  const prop = getTyped(value, config.propertyType);
  const onward = []; let elseflag = true;
  for (const rule of config.rules) {
    let test = prop;
    const v1 = ruleValue(m, rule.v, rule.vt), v2 = ruleValue(m, rule.v2, rule.v2t);
    if (rule.t === 'else') { test = elseflag; elseflag = true; }
    if (operators[rule.t](test, v1, v2, rule.case)) { onward.push(1); elseflag = false; if (config.checkall === 'false') break; } else onward.push(0);
  }
  return onward;
}
const values = [0, 1, -1, 30, 32, 32.5, 40, '30', '32', '40', '032', ' 32 ', '', 'abc', 'ABC', '1e2', '0x20', true, false, null, undefined, [], [32], [1, 2], {}];
const ops = [['eq', 'num'], ['eq', 'str'], ['neq', 'num'], ['lt', 'num'], ['lt', 'str'], ['lte', 'num'], ['gt', 'num'], ['gt', 'str'], ['gte', 'num'],
  ['cont', 'str'], ['regex', 'str'], ['true'], ['false'], ['null'], ['nnull'], ['gt', 'msg'], ['eq', 'msg'], ['eq', undefined]];
for (const a of values) {
  for (const [t, vt] of ops) {
    const rule = { t, vt };
    if (vt === 'msg') rule.v = 'payload.limit';
    else if (t === 'regex') rule.v = '^[a-c]+$';
    else if (vt || t === 'eq') rule.v = '32';
    if (t === 'regex') rule.case = a === 'ABC';
    const m = { payload: { limit: '32' } };
    if (a !== undefined) m.payload.v = a;
    const config = { property: 'payload.v', propertyType: 'msg', checkall: 'true', rules: [rule, { t: 'else' }] };
    out.push({ kind: 'switch', config, msg: m, ports: runSwitch(config, m) });
  }
  const btwn = { property: 'payload.v', propertyType: 'msg', checkall: 'false', rules: [{ t: 'btwn', v: '10', vt: 'num', v2: '35', v2t: 'num' }, { t: 'else' }, { t: 'nnull' }] };
  const m = { payload: {} }; if (a !== undefined) m.payload.v = a;
  out.push({ kind: 'switch', config: btwn, msg: m, ports: runSwitch(btwn, m) });
  const num = { property: 'payload.v', propertyType: 'num', checkall: 'true', rules: [{ t: 'eq', v: '32', vt: 'num' }, { t: 'gt', v: '0', vt: 'num' }] };
  out.push({ kind: 'switch', config: num, msg: m, ports: runSwitch(num, m) });
}

// geo: a seeded pseudo-random walk around FLOWS.md 7.3's polygon, and a star
let seed = 7;
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const polys = [
  [{ latitude: '-22.8937', longitude: '-47.0607' }, { latitude: '-22.8869', longitude: '-47.0448' }, { latitude: '-22.9056', longitude: '-47.0464' }, { latitude: '-22.9061', longitude: '-47.0553' }],
  [{ latitude: 0, longitude: 0 }, { latitude: 10, longitude: 4 }, { latitude: 2, longitude: 6 }, { latitude: 10, longitude: 10 }, { latitude: 0, longitude: 8 }, { latitude: 5, longitude: 5 }],
];
const re = /([+-]?\d+(.\d+)?)[ ]*,[ ]*([+-]?\d+(.\d+)?)/;
for (const [i, poly] of polys.entries()) {
  const lats = poly.map((p) => Number(p.latitude)), lngs = poly.map((p) => Number(p.longitude));
  const [la0, la1, lo0, lo1] = [Math.min(...lats), Math.max(...lats), Math.min(...lngs), Math.max(...lngs)];
  for (let k = 0; k < 150; k++) {
    const lat = (la0 - 1 * (la1 - la0) / 4 + rnd() * (la1 - la0) * 1.5).toFixed(5), lng = (lo0 - (lo1 - lo0) / 4 + rnd() * (lo1 - lo0) * 1.5).toFixed(5);
    const text = k % 3 === 0 ? `${lat}, ${lng}` : k % 3 === 1 ? `${lat},${lng}` : `pos ${lat} ,  ${lng}!`;
    const parsed = text.match(re);
    const point = parsed ? { latitude: parsed[1], longitude: parsed[3] } : null;
    out.push({ kind: 'geo', poly: i, points: poly, text, inside: point ? geolib.isPointInside(point, poly) : null });
  }
}

// lodash merge
const merges = [
  [{ a: 1, l: [1, 2, 3], o: { x: 1 } }, { b: 2, l: [9], o: { y: 2 } }],
  [{ a: 1, o: { x: 1 } }, { a: null, o: 5 }],
  [{ o: 5 }, { o: { z: [{ k: 1 }] } }],
  [{ l: [{ a: 1 }, { b: 2 }] }, { l: [{ c: 3 }] }],
  [{ l: { 0: 'x' } }, { l: ['y'] }],
  [{ l: [1, 2] }, { l: { 1: 'z' } }],
  [{}, { deep: { deeper: { deepest: [1, [2, 3]] } } }],
  [{ s: 'str' }, { s: { k: 1 } }],
];
for (const [dst, src] of merges) out.push({ kind: 'merge', dst, src, out: _.merge(JSON.parse(JSON.stringify(dst)), src) });

// Number() and String()
const strings = ['', ' ', '12', ' 12 ', '\t\n12\n', '1.5', '.5', '5.', '-.5', '+5', '1e3', '1E-3', '1e', 'e3', '0x1f', '0X1F', '0b101', '0o17', '0x', '08', '-0x10',
  'Infinity', '-Infinity', '+Infinity', 'infinity', 'NaN', 'abc', '12px', '1_000', '1,5', '0.0000001', '\u00a012\u2003', '١٢', '--1', '+-1'];
for (const s of strings) out.push({ kind: 'number', in: s, out: String(Number(s)) });
const numbers = [0, -0, 1, -1, 0.1, 0.5, 1 / 3, 100, 1e20, 1e21, 1.5e21, 123456789012345680000, 1e-6, 1e-7, 1.5e-7, -1e-7, 2 ** 53, 2 ** 53 + 2, 5e-324, 1.7976931348623157e308, 35.000001, 0.000001234];
for (const n of numbers) out.push({ kind: 'string', in: n, out: String(n) });

process.stdout.write(JSON.stringify(out, null, 0).replace(/\},\{"kind"/g, '},\n{"kind"') + '\n');
