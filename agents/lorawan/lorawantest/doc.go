// Package lorawantest holds what tests of the LoRaWAN agent share: the
// network servers' messages as their documentation shows them, a fake
// downlink API (ChirpStack's REST API, The Things Stack's push) and a fake
// Everynet websocket server.
package lorawantest
