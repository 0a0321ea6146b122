// Package filter implements the fields and where query options of dojot's
// Kafka WS (subscription-engine/kafka-ws), which trim and select the
// messages a websocket client receives.
//
// where is a sequence of conditions, each ended by ";" and all ANDed
// (app/WhereProcessing: Lexer.js, Grammar.ne, WhereParser.js,
// OperatorValidator.js):
//
//	selector=[op:]v1[,v2...];
//
// The selector is a path of the message flattened by the flat package
// ("attrs.temperature", "list.0"), lexed by dojot's regexp
// /[a-zA-Z0-9 _-]+[.[a-zA-Z0-9 _-]+]*=/, which needs two characters at
// least. op is eq (the default), neq, gt, gte, lt, lte (one value, a
// JavaScript Number: "0x10" and " " are numbers), in and nin (any number
// of values, each a JavaScript regular expression searched in the string
// form of the message value) or bool (one value: true, false, 1, 0). Values
// may be double-quoted, and quoted values take the escapes \b \f \n \r \t
// (another letter is 4002, another character stands for itself). The
// conditions are app/Conditions/Conditions.js: comparisons need a finite
// Number(value), so eq never matches strings.
//
// fields is a json-mask 1.0.4 expression (app/ProcessingRule): "a,b",
// "a/b", "a(b,c)" and "a/*/c"; keys the message lacks are left out, and a
// result with no key is not sent.
//
// Apply replays dojot's pipeline for one message: JSON.parse, each where
// condition on flat(data) then flat.unflatten, json-mask, the
// isObjectEmpty check of WebsocketTarball.js and JSON.stringify (key
// order, number formatting and escaping as JavaScript does). Where dojot
// answers a bad where with 4999 "Internal error" by accident (nearley
// errors it does not recognise), Parse gives the intended 4000 or 4001;
// where.go says which cases.
package filter
