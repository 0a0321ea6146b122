package flows

import (
	"reflect"
	"strings"
	"testing"
)

func TestFTP(t *testing.T) {
	up := func(url, name string, content []byte) []Effect {
		return []Effect{{Kind: "ftp-upload", Value: FTPUpload{URL: url, Username: "dojot", Password: "dojot", Filename: name, Content: content}}}
	}
	cfg := func(enc string) string {
		return `{"method":"PUT","url":"ftp://127.0.0.1:2121","filename":"f.name","filecontent":"f.body","fileencoding":"` + enc + `","response":"r"}`
	}
	in := func(body string) string { return `{"f":{"name":"a.txt","body":` + body + `}}` }
	cases := map[string]struct {
		config, in string
		want       []Effect
		err        string
	}{
		"utf8":          {cfg("utf8"), in(`"olá"`), up("ftp://127.0.0.1:2121", "a.txt", []byte("olá")), ""},
		"base64":        {cfg("base64"), in(`"aGk="`), up("ftp://127.0.0.1:2121", "a.txt", []byte("hi")), ""},
		"base64 no pad": {cfg("base64"), in(`"aGk"`), up("ftp://127.0.0.1:2121", "a.txt", []byte("hi")), ""},
		"hex":           {cfg("hex"), in(`"00ff"`), up("ftp://127.0.0.1:2121", "a.txt", []byte{0, 255}), ""},
		"utf16le":       {cfg("utf16le"), in(`"A"`), up("ftp://127.0.0.1:2121", "a.txt", []byte{'A', 0}), ""},
		"latin1":        {cfg("binary"), in(`"é"`), up("ftp://127.0.0.1:2121", "a.txt", []byte{0xe9}), ""},
		"no scheme":     {`{"url":"h:21","username":"u","password":"p","filename":"f.name","filecontent":"f.body"}`, in(`"x"`), []Effect{{Kind: "ftp-upload", Value: FTPUpload{URL: "ftp://h:21", Username: "u", Password: "p", Filename: "a.txt", Content: []byte("x")}}}, ""},

		"buffer json":      {cfg("utf8"), in(`{"type":"Buffer","data":[104,105]}`), up("ftp://127.0.0.1:2121", "a.txt", []byte("hi")), ""},
		"byte array":       {cfg("base64"), in(`[0,255,256]`), up("ftp://127.0.0.1:2121", "a.txt", []byte{0, 255, 0}), ""},
		"default encoding": {`{"url":"ftp://h","filename":"f.name","filecontent":"f.body","fileencoding":""}`, in(`"é"`), up("ftp://h", "a.txt", []byte("é")), ""},
		"ftps":             {`{"url":"ftps://h:990","filename":"f.name","filecontent":"f.body"}`, in(`"x"`), up("ftps://h:990", "a.txt", []byte("x")), ""},

		"content missing":     {cfg("utf8"), `{"f":{"name":"a"}}`, nil, "ftpin.errors.no-body"},
		"content object":      {cfg("utf8"), in(`{"a":1}`), nil, "ftpin.errors.no-body"},
		"bad base64":          {cfg("base64"), in(`"a$b"`), nil, "ftpin.errors.no-body"},
		"filename not string": {cfg("utf8"), `{"f":{"name":5,"body":"x"}}`, nil, "ftp: file name at f.name is not a string"},
		"method GET":          {`{"method":"GET","url":"ftp://h","filename":"a","filecontent":"b"}`, `{}`, nil, `method "GET"`},
		"content not string":  {cfg("utf8"), in(`5`), nil, "ftpin.errors.no-body"},
		"bad hex":             {cfg("hex"), in(`"zz"`), nil, "ftpin.errors.no-body"},
		"filename missing":    {cfg("utf8"), `{"f":{"body":"x"}}`, nil, "Unknown property f.name requested"},
		"no url":              {`{"filename":"a","filecontent":"b"}`, `{}`, nil, "ftpin.errors.no-url"},
		"http url":            {`{"url":"http://h","filename":"a","filecontent":"b"}`, `{}`, nil, "url must be ftp://"},
		"bad encoding":        {`{"url":"ftp://h","filename":"a","filecontent":"b","fileencoding":"ebcdic"}`, `{}`, nil, `fileencoding "ebcdic"`},
		"no filename":         {`{"url":"ftp://h","filecontent":"b"}`, `{}`, nil, "missing filename"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rec := NewRecorder()
			out, err := runNode(t, "ftp", tc.config, tc.in, rec)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || len(rec.Recorded()) != 0 {
					t.Fatalf("err = %v, recorded %v; want %q", err, rec.Recorded(), tc.err)
				}
				return
			}
			if err != nil || len(out) != 1 || encodeAll(out) != jsonStringify(map[string]any(msgOf(t, tc.in))) {
				t.Fatalf("out %v, err %v; want the message unchanged", encodeAll(out), err)
			}
			if got := rec.Recorded(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("recorded %+v, want %+v", got, tc.want)
			}
		})
	}
}
