package sipmsg

import (
	"fmt"

	"github.com/emiago/sipgo/sip"
)

// Sipgo returns the message as sipgo represents it, parsing m.Raw with
// sipgo's parser (github.com/emiago/sipgo/sip), for services that want
// sipgo's API (dialogs, client transactions). It parses the whole message
// again and allocates accordingly; the typed views above are cheaper for
// reading a few headers. A message with a Stream-framed body is cut to the
// indexed body so sipgo sees exactly one message.
func (m *Msg) Sipgo() (sip.Message, error) {
	raw := m.Raw
	if end := int(m.Body.Off) + int(m.Body.Len); end > 0 && end <= len(raw) {
		raw = raw[:end]
	}
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		return nil, fmt.Errorf("sipmsg: sipgo parse: %w", err)
	}
	return msg, nil
}
