package wolkvox

import "testing"

// The API's spellings of a label value read as one form. An empty value stays
// empty: the exporter names it (unknown).
func TestForms(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"channel", channelForm, "WhatsApp", "whatsapp"},
		{"channel", channelForm, " Facebook ", "facebook"},
		{"channel", channelForm, "INSTAGRAM", "instagram"},
		{"channel", channelForm, "Web", "web"},
		{"channel", channelForm, "Google  Business", "google business"},
		{"channel", channelForm, "", ""},
		{"feeling", feelingForm, "very negative", "very_negative"},
		{"feeling", feelingForm, "Very Positive", "very_positive"},
		{"feeling", feelingForm, "neutral", "neutral"},
		{"feeling", feelingForm, "very-negative", "very_negative"},
		{"feeling", feelingForm, "  ", ""},
		{"participant", participantForm, "chat-bot", "chatbot"},
		{"participant", participantForm, "Chat Bot", "chatbot"},
		{"participant", participantForm, "chatbot", "chatbot"},
		{"participant", participantForm, "Agent", "agent"},
		{"participant", participantForm, "customer", "customer"},
		{"participant", participantForm, "", ""},
	} {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("%s(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
	// Forms remembered per spelling are the same as computed.
	var fm forms
	for range 2 {
		if got := fm.form(&fm.feelings, "Very Negative", feelingForm); got != "very_negative" {
			t.Fatalf("remembered form %q", got)
		}
	}
}
