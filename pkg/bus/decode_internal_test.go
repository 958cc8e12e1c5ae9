package bus

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// decodeData must decode exactly as encoding/json does: the data's JSON is
// the contract (schemas/), whatever library reads it.
func TestDecodeDataMatchesEncodingJSON(t *testing.T) {
	type inner struct {
		Name string `json:"name"`
		Off  uint32 `json:"off"`
	}
	type data struct {
		Raw     []byte          `json:"raw_b64"`
		Status  int             `json:"status,omitempty"`
		Headers []inner         `json:"headers"`
		At      time.Time       `json:"at"`
		Extra   json.RawMessage `json:"extra,omitempty"`
		Ptr     *inner          `json:"ptr,omitempty"`
		Map     map[string]int  `json:"map,omitempty"`
		Flag    bool            `json:"flag,omitempty"`
	}
	cases := []struct{ name, in string }{
		{"full", `{"raw_b64":"SU5WSVRFIHNpcA==","status":200,"headers":[{"name":"Via","off":12},{"name":"To","off":40}],"at":"2026-12-01T20:00:00.123Z","extra":{"a":[1,2]},"ptr":{"name":"x"},"map":{"a":1},"flag":true}`},
		{"unknown fields and other case", `{"RAW_B64":"AAEC","Status":7,"unknown":{"deep":[1,{"x":null}]},"headers":null}`},
		{"nulls", `{"raw_b64":null,"headers":null,"ptr":null,"at":"0001-01-01T00:00:00Z"}`},
		{"escapes", `{"headers":[{"name":"a\"b\\c\u00e9\ud83d\ude00","off":0}]}`},
		{"empty", `{}`},
		{"invalid UTF-8", "{\"headers\":[{\"name\":\"a\xffb\"}]}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want, got data
			errWant := json.Unmarshal([]byte(tc.in), &want)
			errGot := decodeData([]byte(tc.in), &got)
			if (errWant == nil) != (errGot == nil) {
				t.Fatalf("encoding/json error %v, decodeData error %v", errWant, errGot)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("decodeData = %+v\nencoding/json = %+v", got, want)
			}
		})
	}
	for _, bad := range []string{`{"status":"x"}`, `{"raw_b64":"%%%"}`, `{"headers":[1]}`, `{`, `[]`, `{"at":"yesterday"}`} {
		var v data
		if err := decodeData([]byte(bad), &v); err == nil {
			t.Errorf("decodeData(%s) = nil error, want one (encoding/json refuses it)", bad)
		}
	}
}

// FuzzDecodeData: whatever encoding/json accepts, decodeData decodes to
// the same value.
func FuzzDecodeData(f *testing.F) {
	for _, s := range []string{`{"raw_b64":"SU5WSVRFIHNpcA==","status":200,"headers":[{"name":"Via","off":12}]}`, `{}`, `{"Status":1}`, `{"headers":[{"name":"\u00e9"}]}`, "{\"text\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	type inner struct {
		Name string `json:"name"`
		Off  uint32 `json:"off"`
	}
	type data struct {
		Raw     []byte  `json:"raw_b64"`
		Status  int     `json:"status,omitempty"`
		Headers []inner `json:"headers"`
		Text    string  `json:"text"`
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want, got data
		if json.Unmarshal(in, &want) != nil {
			_ = decodeData(in, &got) // must not panic
			return
		}
		if err := decodeData(in, &got); err != nil {
			t.Fatalf("encoding/json accepts %q, decodeData: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decodeData %+v, encoding/json %+v", in, got, want)
		}
	})
}
