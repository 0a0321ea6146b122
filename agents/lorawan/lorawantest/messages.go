package lorawantest

// ChirpStackUp is the "up" event of ChirpStack's documentation, JSON
// encoding (chirpstack/chirpstack-docs src/chirpstack/integrations/events.md).
const ChirpStackUp = `{
	"deduplicationId": "3ac7e3c4-4401-4b8d-9386-a5c902f9202d",
	"time": "2022-07-18T09:34:15.775023242+00:00",
	"deviceInfo": {
		"tenantId": "52f14cd4-c6f1-4fbd-8f87-4025e1d49242",
		"tenantName": "ChirpStack",
		"applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97",
		"applicationName": "Test application",
		"deviceProfileId": "14855bf7-d10d-4aee-b618-ebfcb64dc7ad",
		"deviceProfileName": "Test device-profile",
		"deviceName": "Test device",
		"devEui": "0101010101010101",
		"tags": {
			"key": "value"
		}
	},
	"devAddr": "00189440",
	"dr": 1,
	"fPort": 1,
	"data": "qg==",
	"rxInfo": [{
		"gatewayId": "0016c001f153a14c",
		"uplinkId": 4217106255,
		"rssi": -36,
		"snr": 10.5,
		"context": "E3OWOQ==",
		"metadata": {
			"region_name": "eu868",
			"region_common_name": "EU868"
		}
	}],
	"txInfo": {
		"frequency": 867100000,
		"modulation": {
			"lora": {
				"bandwidth": 125000,
				"spreadingFactor": 11,
				"codeRate": "CR_4_5"
			}
		}
	}
}`

// TTSUplink is the uplink message example of The Things Stack's
// documentation (TheThingsIndustries/lorawan-stack-docs
// doc/content/integrations/data-formats/_index.md).
const TTSUplink = `{
  "end_device_ids" : {
    "device_id" : "dev1",
    "application_ids" : {
      "application_id" : "app1"
    },
    "dev_eui" : "0004A30B001C0530",
    "join_eui" : "800000000000000C",
    "dev_addr" : "00BCB929"
  },
  "correlation_ids" : [
    "as:up:01E0WZGT6Y7657CPFPE5WEYDSQ",
    "gs:conn:01E0WDEC6T5T4XXBAX7S1VMFKE",
    "gs:uplink:01E0WZGSZWT07NE5TS2APTV1Z9",
    "ns:uplink:01E0WZGSZXZXZS8RFAWZX0F2FY",
    "rpc:/ttn.lorawan.v3.GsNs/HandleUplink:01E0WZGSZXGE1KS577PFBWRJEE"
  ],
  "received_at" : "2020-02-12T15:15:46.014773143Z",
  "uplink_message" : {
    "session_key_id" : "AXA50tHUGUucuzS/bCGMNw==",
    "f_cnt" : 1,
    "frm_payload" : "gkHe",
    "decoded_payload" : {
      "temperature": 1.0,
      "luminosity": 0.64
    },
    "rx_metadata" : [ {
      "gateway_ids" : {
        "gateway_id" : "gtw1",
        "eui" : "9C5C8E00001A05C4"
      },
      "time" : "2020-02-12T15:15:45.787Z",
      "timestamp" : 2463457000,
      "rssi" : -35,
      "channel_rssi" : -35,
      "snr" : 5,
      "uplink_token" : "ChIKEAoEZ3R3MRIInFyOAAAaBcQQ6L3Vlgk=",
      "channel_index" : 2
    } ],
    "settings" : {
      "data_rate" : {
        "lora" : {
          "bandwidth" : 125000,
          "spreading_factor" : 7
        }
      },
      "data_rate_index" : 5,
      "coding_rate" : "4/6",
      "frequency" : "868300000",
      "timestamp" : 2463457000,
      "time" : "2020-02-12T15:15:45.787Z"
    },
    "consumed_airtime": "0.056576s",
    "locations": {
      "user": {
        "latitude": 37.97155556731436,
        "longitude": 23.72678801175413,
        "altitude": 10,
        "source": "SOURCE_REGISTRY"
      }
    },
    "received_at" : "2020-02-12T15:15:45.789585559Z"
  }
}`

// TTSJoin is the join-accept example of the same page: not an uplink.
const TTSJoin = `{
  "end_device_ids" : {
    "device_id" : "dev1",
    "application_ids" : {
      "application_id" : "app1"
    },
    "dev_eui" : "0004A30B001C0530",
    "join_eui" : "800000000000000C",
    "dev_addr" : "01497ECC"
  },
  "correlation_ids" : [
    "as:up:01E191YN5F2HMBQCBCVRF731VY"
  ],
  "received_at" : "2020-02-17T07:49:09.935284891Z",
  "join_accept" : {
    "session_key_id" : "AXBSH1Pk6Z0G166RlH16CQ==",
    "received_at" : "2020-02-17T07:49:09.736532315Z"
  }
}`

// EverynetUplink is the Everynet message of dojot's documentation
// (dojot/iotagent-lora-everynet docs/operation.rst).
const EverynetUplink = `{
  "params": {
    "payload": "YWEIChAoGB4gKC324gyrMH3354g4jAFCBggBEAIYAw==",
    "port": 2,
    "duplicate": false,
    "radio": {
      "delay": 0.04593086242675781,
      "datarate": 0,
      "modulation": {
        "bandwidth": 125000,
        "type": 0,
        "spreading": 12,
        "coderate": "4/5"
      },
      "hardware": {
        "status": 1,
        "chain": 1,
        "tmst": 84453545,
        "snr": 9.8,
        "rssi": -37.0,
        "channel": 5,
        "gps": {
          "lat": 41.77029037475586,
          "lng": -28.813779830932617,
          "alt": 34.1
        }
      },
      "time": 15174174.5877,
      "freq": 868.1
    },
    "counter_up": 2842,
    "rx_time": 1517415774.518877,
    "encrypted_payload": "c54c3a8488="
  },
  "meta": {
    "network": "xyzs",
    "packet_hash": "71229363s89798ba898q98e0d7416581f532",
    "application": "0000000000010203",
    "device_addr": "123457432",
    "time": 1517414.578324,
    "device": "009798798793292",
    "packet_id": "3b31845cf094379898897989a878de",
    "gateway": "9798892998d8v80001124"
  },
  "type": "uplink"
}`
