package ftp

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dojot-es/dojot/flows"
)

// Uploader uploads files; the zero value is ready. TLSConfig is used for
// ftps:// (nil: verify the server name as usual).
type Uploader struct {
	TLSConfig *tls.Config
}

var _ flows.FTPUploader = (*Uploader)(nil)

// Upload connects, logs in, stores u.Content as u.Filename and quits. ctx
// bounds the whole exchange.
func (up *Uploader) Upload(ctx context.Context, u flows.FTPUpload) (err error) {
	target, err := url.Parse(u.URL)
	if err != nil {
		return fmt.Errorf("ftp url: %w", err)
	}
	secure := target.Scheme == "ftps"
	if target.Scheme != "ftp" && !secure {
		return fmt.Errorf("ftp url %q: scheme must be ftp or ftps", u.URL)
	}
	host := target.Host
	if target.Port() == "" {
		host = net.JoinHostPort(target.Hostname(), "21")
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("ftp connect: %w", err)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	c := &conn{conn: raw, text: textproto.NewConn(raw)}
	if _, err := c.expect(220); err != nil {
		return err
	}
	tlsConf := up.tlsConfig(target.Hostname())
	if secure {
		if _, err := c.cmd(234, "AUTH TLS"); err != nil {
			return err
		}
		tc := tls.Client(raw, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("ftp tls: %w", err)
		}
		c.conn, c.text = tc, textproto.NewConn(tc)
	}
	code, err := c.cmdAny("USER "+u.Username, 230, 331)
	if err != nil {
		return err
	}
	if code == 331 {
		if _, err := c.cmd(230, "PASS "+u.Password); err != nil {
			return err
		}
	}
	if secure {
		if _, err := c.cmd(200, "PBSZ 0"); err != nil {
			return err
		}
		if _, err := c.cmd(200, "PROT P"); err != nil {
			return err
		}
	}
	if _, err := c.cmd(200, "TYPE I"); err != nil {
		return err
	}
	msg, err := c.cmd(227, "PASV")
	if err != nil {
		return err
	}
	dataAddr, err := pasvAddr(msg, raw.RemoteAddr())
	if err != nil {
		return err
	}
	data, err := d.DialContext(ctx, "tcp", dataAddr)
	if err != nil {
		return fmt.Errorf("ftp data connect: %w", err)
	}
	defer data.Close()
	if secure {
		data = tls.Client(data, tlsConf) // handshake on first write
	}
	if _, err := c.cmdAny("STOR "+u.Filename, 150, 125); err != nil {
		return err
	}
	if _, err := io.Copy(data, bytes.NewReader(u.Content)); err != nil {
		return fmt.Errorf("ftp send: %w", err)
	}
	if err := data.Close(); err != nil {
		return fmt.Errorf("ftp send: %w", err)
	}
	if _, err := c.expect(226); err != nil {
		return err
	}
	c.cmdAny("QUIT", 221) // best effort: the file is stored
	return nil
}

func (up *Uploader) tlsConfig(server string) *tls.Config {
	if up.TLSConfig != nil {
		conf := up.TLSConfig.Clone()
		if conf.ServerName == "" {
			conf.ServerName = server
		}
		return conf
	}
	return &tls.Config{ServerName: server, MinVersion: tls.VersionTLS12}
}

type conn struct {
	conn net.Conn
	text *textproto.Conn
}

func (c *conn) expect(code int) (string, error) {
	_, msg, err := c.text.ReadResponse(code)
	if err != nil {
		return "", fmt.Errorf("ftp: %w", err)
	}
	return msg, nil
}

func (c *conn) cmd(code int, line string) (string, error) {
	if err := c.text.PrintfLine("%s", line); err != nil {
		return "", fmt.Errorf("ftp %s: %w", verb(line), err)
	}
	_, msg, err := c.text.ReadResponse(code)
	if err != nil {
		return "", fmt.Errorf("ftp %s: %w", verb(line), err)
	}
	return msg, nil
}

// cmdAny accepts any of the codes.
func (c *conn) cmdAny(line string, codes ...int) (int, error) {
	if err := c.text.PrintfLine("%s", line); err != nil {
		return 0, fmt.Errorf("ftp %s: %w", verb(line), err)
	}
	code, msg, err := c.text.ReadResponse(0)
	if err != nil {
		return 0, fmt.Errorf("ftp %s: %w", verb(line), err)
	}
	for _, want := range codes {
		if code == want {
			return code, nil
		}
	}
	return code, fmt.Errorf("ftp %s: %d %s", verb(line), code, msg)
}

// verb keeps passwords out of errors.
func verb(line string) string {
	v, _, _ := strings.Cut(line, " ")
	return v
}

// pasvAddr reads "Entering Passive Mode (h1,h2,h3,h4,p1,p2)". The host is
// taken from the control connection, as servers behind NAT often announce
// a private address.
func pasvAddr(msg string, control net.Addr) (string, error) {
	open, end := strings.IndexByte(msg, '('), strings.IndexByte(msg, ')')
	if open < 0 || end < open {
		return "", fmt.Errorf("ftp PASV: bad reply %q", msg)
	}
	parts := strings.Split(msg[open+1:end], ",")
	if len(parts) != 6 {
		return "", fmt.Errorf("ftp PASV: bad reply %q", msg)
	}
	p1, err1 := strconv.Atoi(strings.TrimSpace(parts[4]))
	p2, err2 := strconv.Atoi(strings.TrimSpace(parts[5]))
	if err1 != nil || err2 != nil || p1 < 0 || p1 > 255 || p2 < 0 || p2 > 255 {
		return "", fmt.Errorf("ftp PASV: bad port in %q", msg)
	}
	host, _, err := net.SplitHostPort(control.String())
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(p1*256+p2)), nil
}
