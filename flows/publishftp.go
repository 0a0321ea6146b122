package flows

import (
	"context"
	"fmt"
)

// publishFTPNode puts a file on the tenant's dojot.ftp topic for the
// kafka2ftp connector (FLOWS.md 4.8); nothing downstream.
type publishFTPNode struct {
	encode            string
	filename, content string
}

func init() { register("publish-ftp", newPublishFTP) }

func newPublishFTP(s *spec) Node {
	return &publishFTPNode{encode: s.oneOf("encode", "base64", fileEncodings...), filename: s.str("filename", ""), content: s.str("filecontent", "")}
}

func (n *publishFTPNode) Process(ctx context.Context, c *Call, msg Msg) ([]Msg, error) {
	var f FTPFile
	f.Data.Filename, f.Data.Encoding, f.Data.Content = "", n.encode, ""
	if n.content != "" { // dojot: an empty path means an empty value
		v, err := Get(msg, n.content)
		if err != nil {
			return nil, err
		}
		f.Data.Content = deepCopy(v)
	}
	if n.filename != "" {
		v, err := Get(msg, n.filename)
		if err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("publish-ftp: file name at %s is not a string", n.filename)
		}
		f.Data.Filename = s
	}
	f.Metadata.MsgID, f.Metadata.TS = c.NextID(), c.nowMillis()
	f.Metadata.Service, f.Metadata.ContentType = "flowbroker", "application/vnd.dojot.ftp+json"
	if c.Effects.FTP == nil {
		return nil, errNoEffect("ftp publisher")
	}
	if err := c.Effects.FTP.PublishFTP(ctx, c.Tenant, f); err != nil {
		return nil, fmt.Errorf("publish ftp: %w", err)
	}
	return nil, nil
}
