package sipmsg_test

import (
	"fmt"
	"strings"

	"github.com/sipbus/sipbus/pkg/sipmsg"
)

const exampleInvite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP [2001:db8::9:1]:5060;rport;branch=z9hG4bK776asdhds\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: Bob <sip:bob@biloxi.example.com>\r\n" +
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=1928301774\r\n" +
	"Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Content-Length: 0\r\n\r\n"

func ExampleParseURI() {
	u, err := sipmsg.ParseURI("SIP:%61lice@[2001:DB8::10]:5070;Transport=TCP")
	if err != nil {
		panic(err)
	}
	fmt.Println(u.User, u.Host, u.Port, u.Params)
	fmt.Println(u.String())
	_, err = sipmsg.ParseURI("sip:2001:db8::10")
	fmt.Println(err)
	// Output:
	// alice 2001:db8::10 5070 [{transport TCP}]
	// sip:alice@[2001:db8::10]:5070;transport=TCP
	// sipmsg: bad URI: IPv6 address without brackets (RFC 5118) in "sip:2001:db8::10"
}

func ExampleServerTxKey() {
	m, _ := sipmsg.Parse([]byte(exampleInvite), sipmsg.Datagram)
	key, _ := sipmsg.ServerTxKey(m)
	fmt.Println(key)
	fmt.Println(sipmsg.CallKey(m.CallID()))
	// Output:
	// s:z9hG4bK776asdhds|[2001:db8::9:1]:5060|INVITE
	// 87b1e9004c81c850
}

func ExampleReply() {
	m, _ := sipmsg.Parse([]byte(exampleInvite), sipmsg.Datagram)
	signer := sipmsg.NewSigner([]byte("shared edge secret"))
	out := sipmsg.Reply(m, 503, "", sipmsg.ReplyOptions{
		ToTag:    signer.ToTag(m),
		Headers:  []string{"Retry-After: 5"},
		Received: "2001:db8::9:1",
		RPort:    5062,
	})
	fmt.Print(strings.ReplaceAll(string(out), "\r\n", "\n"))
	// Output:
	// SIP/2.0 503 Service Unavailable
	// Via: SIP/2.0/UDP [2001:db8::9:1]:5060;rport=5062;branch=z9hG4bK776asdhds;received=2001:db8::9:1
	// From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774
	// To: Bob <sip:bob@biloxi.example.com>;tag=sl-761869323e0fc6455376
	// Call-ID: a84b4c76e66710@pc33.atlanta.example.com
	// CSeq: 314159 INVITE
	// Retry-After: 5
	// Content-Length: 0
}
