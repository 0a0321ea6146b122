// Package ftp is the FTP client behind the ftp node: Uploader stores a
// file with STOR over a passive data connection, on ftp:// or, with
// explicit TLS (AUTH TLS, PROT P), on ftps:// as dojot's basic-ftp did.
package ftp
