package flows

import "testing"

func TestPublishFTP(t *testing.T) {
	file := func(name, enc string, content any) []Effect {
		var f FTPFile
		f.Metadata.MsgID, f.Metadata.TS, f.Metadata.Service, f.Metadata.ContentType = "7:f1:n1:0", testNow.UnixMilli(), "flowbroker", "application/vnd.dojot.ftp+json"
		f.Data.Filename, f.Data.Encoding, f.Data.Content = name, enc, content
		return []Effect{{Kind: "ftp", Tenant: "admin", Value: f}}
	}
	in := `{"payload":{"name":"report.csv","content":"YSxiCg=="}}`
	runEffectCases(t, "publish-ftp", map[string]effectCase{
		"base64 default": {`{"filename":"payload.name","filecontent":"payload.content"}`, in, file("report.csv", "base64", "YSxiCg=="), ""},
		"utf8":           {`{"encode":"utf8","filename":"payload.name","filecontent":"payload.content"}`, in, file("report.csv", "utf8", "YSxiCg=="), ""},
		"content as is":  {`{"filename":"payload.name","filecontent":"payload.obj"}`, `{"payload":{"name":"r","obj":{"a":[1]}}}`, file("r", "base64", map[string]any{"a": []any{1.0}}), ""},
		"no paths":       {`{}`, in, file("", "base64", ""), ""},
		"empty paths":    {`{"encode":"hex","filename":"","filecontent":""}`, in, file("", "hex", ""), ""},

		"content missing":  {`{"filename":"payload.name","filecontent":"payload.nope"}`, in, nil, "Unknown property payload.nope requested"},
		"filename missing": {`{"filename":"payload.nope","filecontent":"payload.content"}`, in, nil, "Unknown property payload.nope requested"},
		"filename number":  {`{"filename":"payload.n","filecontent":"payload.content"}`, `{"payload":{"n":1,"content":"x"}}`, nil, "file name at payload.n is not a string"},
		"bad encoding":     {`{"encode":"rot13"}`, in, nil, `encode "rot13"`},
	})
}
