package main

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	_ "image/jpeg" // FullScreenshot with a quality below 100 is a JPEG
)

// pngOf re-encodes a screenshot as PNG (docs/web.png).
func pngOf(t *testing.T, b []byte) []byte {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
