package codecache_test

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"testing"
)

// entry is one member of a test archive.
type entry struct {
	name, body string
	mode       fs.FileMode
	unix       bool // record mode; else the archive looks made on Windows
}

// File is a regular file with a unix mode.
func File(name, body string, mode fs.FileMode) entry { return entry{name, body, mode, true} }

// Dir is a directory (name ends in /) with a unix mode.
func Dir(name string, mode fs.FileMode) entry { return entry{name, "", fs.ModeDir | mode, true} }

// Link is a symlink to target.
func Link(name, target string) entry { return entry{name, target, fs.ModeSymlink | 0o777, true} }

// Plain is an entry with no unix mode.
func Plain(name, body string) entry { return entry{name: name, body: body} }

// Zip builds an archive of entries.
func Zip(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.unix {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := f.Write([]byte(e.body)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// Corrupt flips a byte in the compressed data of the first entry of b.
func Corrupt(tb testing.TB, b []byte) []byte {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		tb.Fatal(err)
	}
	off, err := zr.File[0].DataOffset()
	if err != nil {
		tb.Fatal(err)
	}
	b = bytes.Clone(b)
	b[off+2] ^= 0xff
	return b
}

// Huge is an archive whose one entry claims size bytes unpacked.
func Huge(tb testing.TB, size uint64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.CreateRaw(&zip.FileHeader{Name: "big", Method: zip.Store, CompressedSize64: 1, UncompressedSize64: size})
	if err != nil {
		tb.Fatal(err)
	}
	f.Write([]byte{0})
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
