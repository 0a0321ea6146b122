package flows

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
)

// ftpNode uploads a file read from the message to an FTP server (FLOWS.md
// 4.7) through Effects.Uploader; the message goes on unchanged (dojot's
// "response" field is written onto the FTP result, not the message).
type ftpNode struct {
	url                string
	username, password string
	filename, content  string
	encoding           string
}

func init() { register("ftp", newFTP) }

func (*ftpNode) blocking() {}

var fileEncodings = []string{"ascii", "base64", "hex", "utf16le", "utf8", "binary", "latin1", "ucs2", "utf-8"}

func newFTP(s *spec) Node {
	n := &ftpNode{url: s.str("url", ""), username: s.str("username", "dojot"), password: s.str("password", "dojot"),
		filename: s.required("filename"), content: s.required("filecontent")}
	n.encoding = s.oneOf("fileencoding", "utf8", fileEncodings...)
	s.oneOf("method", "PUT", "PUT")
	switch {
	case n.url == "":
		s.fail("ftpin.errors.no-url")
	case strings.Contains(n.url, "://") && !strings.HasPrefix(n.url, "ftp://") && !strings.HasPrefix(n.url, "ftps://"):
		s.fail("url must be ftp://host[:port] or ftps://host[:port]")
	}
	return n
}

// decodeContent is Node's Buffer.from(value, encoding): a string decoded
// with the encoding, an array of byte values, or a Buffer in its JSON form
// ({"type":"Buffer","data":[...]}, what an http node's bin answer
// becomes); anything else fails. Node decodes bad base64 or hex text
// leniently (a truncated file); here it fails the node.
func decodeContent(v any, encoding string) ([]byte, error) {
	if isBufferJSON(v) {
		v = v.(map[string]any)["data"]
	}
	if list, ok := v.([]any); ok {
		b := make([]byte, len(list))
		for i, e := range list {
			f, ok := e.(float64)
			if !ok {
				return nil, errors.New("ftpin.errors.no-body")
			}
			b[i] = byte(int64(f)) // Node keeps the low 8 bits
		}
		return b, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, errors.New("ftpin.errors.no-body")
	}
	switch encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(strings.TrimRight(s, "=") + strings.Repeat("=", (4-len(strings.TrimRight(s, "="))%4)%4))
		if err != nil {
			return nil, errors.New("ftpin.errors.no-body")
		}
		return b, nil
	case "hex":
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, errors.New("ftpin.errors.no-body")
		}
		return b, nil
	case "ascii", "binary", "latin1":
		b := make([]byte, 0, len(s))
		for _, r := range s {
			b = append(b, byte(r))
		}
		return b, nil
	case "utf16le", "ucs2":
		u := utf16.Encode([]rune(s))
		b := make([]byte, 2*len(u))
		for i, c := range u {
			b[2*i], b[2*i+1] = byte(c), byte(c>>8)
		}
		return b, nil
	}
	return []byte(s), nil
}

func (n *ftpNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	name, err := Get(msg, n.filename)
	if err != nil {
		return nil, err
	}
	fname, ok := name.(string)
	if !ok || fname == "" {
		return nil, fmt.Errorf("ftp: file name at %s is not a string", n.filename)
	}
	v, err := Get(msg, n.content)
	if err != nil {
		return nil, errors.New("ftpin.errors.no-body")
	}
	content, err := decodeContent(v, n.encoding)
	if err != nil {
		return nil, err
	}
	url := n.url
	if !strings.Contains(url, "://") {
		url = "ftp://" + url
	}
	if c.Effects.Uploader == nil {
		return nil, errNoEffect("ftp uploader")
	}
	if err := c.Effects.Uploader.Upload(ctx, FTPUpload{URL: url, Username: n.username, Password: n.password, Filename: fname, Content: content}); err != nil {
		return nil, fmt.Errorf("ftp upload: %w", err)
	}
	return []Msg{msg}, nil
}
