package events

// TMCommand is the request of CommandTM: an application answers a
// transaction tm handed to it (route action `app: NAME`).
type TMCommand struct {
	Action     string   `json:"action"` // TMActionReply or TMActionRelay
	CallKey    string   `json:"call_key"`
	TxKey      string   `json:"tx_key"`
	Code       int      `json:"code,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	Headers    []string `json:"headers,omitempty"`
	URI        string   `json:"uri,omitempty"`
	RequestURI string   `json:"request_uri,omitempty"`
}

// TMCommandReply is tm's answer to a TMCommand.
type TMCommandReply struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	// Field names the command's field at fault when Status is 400.
	Field string `json:"field,omitempty"`
}

// TM command actions and subjects.
const (
	TMActionReply = "reply"
	TMActionRelay = "relay"

	// TMCommandSubject is where tm replicas take commands (queue group TMQueue).
	TMCommandSubject = "sipbus.tm.command"
	TMQueue          = "sipbus-tm"
)

// SchemaTMCommandReply is the schema of the reply half of CommandTM.
var SchemaTMCommandReply = SchemaURL(CommandTM) + "#/$defs/response"

func (*TMCommand) CEType() string        { return CommandTM }
func (*TMCommand) CESchema() string      { return SchemaURL(CommandTM) }
func (*TMCommandReply) CEType() string   { return CommandTM }
func (*TMCommandReply) CESchema() string { return SchemaTMCommandReply }
