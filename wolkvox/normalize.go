package wolkvox

import "strings"

// The API spells label values differently from one source to another: "WhatsApp"
// and "whatsapp", "Very Negative" and "very negative", "chat-bot" and "chatbot".
// A Record holds one form of each.

// channelForm is a channel in lower case: "WhatsApp" -> "whatsapp".
func channelForm(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// statusForm is an agent's state in lower case, words one space apart, as
// channelForm writes a channel: "Break  - Lunch" -> "break - lunch".
func statusForm(s string) string { return channelForm(s) }

// feelingForm is a feeling in lower case with '_' between words:
// "Very Negative" -> "very_negative".
func feelingForm(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '-' || r == '_' || r == '\t' || r == '\n' || r == '\r'
	}), "_")
}

// participantForm is a last participant as feelingForm writes it, with "chat-bot",
// "Chat Bot" and "chatbot" all "chatbot".
func participantForm(s string) string {
	v := feelingForm(s)
	if strings.ReplaceAll(v, "_", "") == "chatbot" {
		return "chatbot"
	}
	return v
}

// forms remembers the form of the label values an answer repeats thousands of times,
// so each distinct spelling is normalized once.
type forms struct {
	channels, feelings, participants, statuses map[string]string
}

// maxForms bounds each memory: a hostile answer with a new value in every record
// gets them normalized each time instead.
const maxForms = 1000

func (fm *forms) form(memory *map[string]string, raw string, normalize func(string) string) string {
	if v, ok := (*memory)[raw]; ok {
		return v
	}
	v := normalize(raw)
	if *memory == nil {
		*memory = map[string]string{}
	}
	if len(*memory) < maxForms {
		(*memory)[strings.Clone(raw)] = strings.Clone(v)
	}
	return v
}
