package bus

import (
	"encoding/json"
	"unicode/utf8"

	jsoniter "github.com/json-iterator/go"
)

// dataJSON decodes event data exactly as encoding/json does (field
// matching, base64 for []byte, json.Unmarshaler, numbers), in a single
// pass without reflection on every call: decoding the data of a SIP event
// was the largest cost of every consumer (22 µs per event with
// encoding/json, see events.BenchmarkDecodeRequestReceived). Encoding stays
// with encoding/json.
var dataJSON = jsoniter.ConfigCompatibleWithStandardLibrary

// decodeData decodes event data into v. JSON that is not valid UTF-8 (no
// sipbus encoder writes it) goes to encoding/json, which replaces the bad
// bytes with U+FFFD where json-iterator would keep them.
func decodeData(data []byte, v any) error {
	if !utf8.Valid(data) {
		return json.Unmarshal(data, v)
	}
	return dataJSON.Unmarshal(data, v)
}

// DecodeJSON decodes data into v as encoding/json.Unmarshal does, the way
// the bus decodes event data: for other hot decoders of the same JSON, such
// as the commands' requests.
func DecodeJSON(data []byte, v any) error { return decodeData(data, v) }
