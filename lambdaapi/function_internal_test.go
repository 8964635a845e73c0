package lambdaapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lambada-dev/lambada"
)

// The 413s are tested here rather than by sending 70 MB through the SDK.

func TestCheckZipSize(t *testing.T) {
	if err := checkZipSize(make([]byte, lambada.MaxZippedSize)); err != nil {
		t.Fatalf("50 MiB exactly: %v", err)
	}
	err := checkZipSize(make([]byte, lambada.MaxZippedSize+1))
	if lambada.ErrorCode(err) != lambada.ETOOLARGE || lambada.ErrorMessage(err) != "Zipped size must be smaller than 52428800 bytes" {
		t.Fatalf("err = %v", err)
	}
	if wire[lambada.ETOOLARGE].status != 413 || wire[lambada.ETOOLARGE].typ != "RequestEntityTooLargeException" {
		t.Fatalf("ETOOLARGE renders as %+v", wire[lambada.ETOOLARGE])
	}
}

func TestDecodeBody_TooLarge(t *testing.T) {
	r := httptest.NewRequest("POST", "/2015-03-31/functions", strings.NewReader("{}"))
	r.ContentLength = maxRequestBody + 1
	var dst struct{}
	err := decodeBody(r, "CreateFunction", &dst)
	if lambada.ErrorCode(err) != lambada.ETOOLARGE || lambada.ErrorMessage(err) != "Request must be smaller than 70167211 bytes for the CreateFunction operation" {
		t.Fatalf("err = %v", err)
	}
}
