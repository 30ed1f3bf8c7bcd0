package simulator

import (
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is one message of a chat's conversation, as api=chats lists it.
type Message struct {
	From string    // the customer's phone (WhatsApp) or name, the agent's name, or "chat-bot"
	Text string    // 20 to 300 characters; at times the customer's phone or e-mail (personal data)
	At   time.Time // when it was sent
}

// Conversation returns the whole conversation of c, oldest first. api=chats
// lists, while c is open, the messages of it sent by then. It is made from c
// alone, the same for every answer: the customer writes at Opened, the
// agent first answers at Opened + AnswerDelay, then they alternate until the
// last message (at Closed for a coded chat; early for a TIMEOUTCHAT, which then
// stays silent until it times out), AgentAnswers agent messages in all.
func (c Chat) Conversation() []Message {
	v := newChatConvo(&c)
	out := make([]Message, 0, v.n)
	var text []byte
	for {
		role, at, ok := v.next(farFuture)
		if !ok {
			return out
		}
		text = v.text(text[:0], role)
		out = append(out, Message{From: v.from(role), Text: string(text), At: at})
	}
}

var farFuture = time.Unix(1<<40, 0)

const (
	fromCustomer byte = iota + 1
	fromBot
	fromAgent
)

// convo makes a conversation message by message, so an answer holding
// thousands of them never holds them all.
type convo struct {
	c     *Chat
	r     *rand.Rand
	n     int       // messages in all
	bot   bool      // the chat-bot answers before the agent
	last  byte      // who sends an extra closing message; 0 for none
	first time.Time // the agent's first answer
	end   time.Time // the last message
	i     int       // the next message
}

// chatPlan decides the shape of c's conversation without drawing from its RNG,
// so the agents API can tell whether a conversation is in progress cheaply.
func chatPlan(c *Chat) (h uint64, n int, bot bool, last byte, first, end time.Time) {
	f := fnv.New64a()
	f.Write([]byte(c.ConnID))
	f.Write([]byte{0})
	f.Write([]byte(c.CustomerID))
	h = splitmix64(f.Sum64())
	bot = h%3 == 0
	switch c.LastParticipant {
	case "customer":
		last = fromCustomer
	case "chat-bot":
		last = fromBot
	}
	answers := max(1, c.AgentAnswers)
	n = 2 * answers
	if bot {
		n++
	}
	if last != 0 {
		n++
	}
	first = c.Opened.Add(c.AnswerDelay)
	span := c.Closed.Sub(first)
	if c.CodAct == timeoutDisposition.code {
		// Forgotten chats: talked about at first, then silent until the timeout.
		span = min(span, c.HandleTime*3/2)
	}
	end = first
	if n > firstAnswer(bot)+1 {
		end = first.Add(max(span, 0).Truncate(time.Second))
	}
	return h, n, bot, last, first, end
}

func firstAnswer(bot bool) int {
	if bot {
		return 2
	}
	return 1
}

func newChatConvo(c *Chat) *convo {
	h, n, bot, last, first, end := chatPlan(c)
	return newConvo(c, h, n, bot, last, first, end)
}

func newConvo(c *Chat, seed uint64, n int, bot bool, last byte, first, end time.Time) *convo {
	// Fake text must come back the same for a chat, and holds nothing secret.
	r := rand.New(rand.NewPCG(seed, splitmix64(seed))) //nolint:gosec // G404: reproducible, not secret
	return &convo{c: c, r: r, n: n, bot: bot, last: last, first: first, end: end}
}

func (v *convo) role(i int) byte {
	fa := firstAnswer(v.bot)
	switch {
	case i == 0:
		return fromCustomer
	case v.bot && i == 1:
		return fromBot
	case i == v.n-1 && v.last != 0:
		return v.last
	case (i-fa)%2 == 0:
		return fromAgent
	}
	return fromCustomer
}

// next returns the role and time of the next message if it was sent by limit.
// Times never decrease, so the first message after limit ends the ones to list.
func (v *convo) next(limit time.Time) (role byte, at time.Time, ok bool) {
	if v.i >= v.n {
		return 0, time.Time{}, false
	}
	fa := firstAnswer(v.bot)
	i := v.i
	switch {
	case i == 0:
		at = v.c.Opened
	case v.bot && i == 1:
		at = v.c.Opened.Add((v.c.AnswerDelay / 3).Truncate(time.Second))
	case i == fa:
		at = v.first
	default:
		// Message j of k after the first answer falls in the j-th k-th of the span:
		// spread out, yet in order.
		k, j := v.n-1-fa, i-fa
		if j == k {
			at = v.end
		} else {
			span := v.end.Sub(v.first)
			at = v.first.Add(time.Duration(float64(span) * (float64(j-1) + v.r.Float64()) / float64(k)).Truncate(time.Second))
		}
	}
	if at.After(limit) {
		return 0, time.Time{}, false
	}
	v.i++
	return v.role(i), at, true
}

// from is the sender as the wire names it.
func (v *convo) from(role byte) string {
	switch role {
	case fromAgent:
		return v.c.AgentName
	case fromBot:
		return "chat-bot"
	}
	if v.c.Channel == "WhatsApp" && v.c.CustomerPhone != "" {
		return v.c.CustomerPhone // WhatsApp knows its users by phone
	}
	return v.c.CustomerName
}

// What customers, agents and the bot write, in Spanish as the operation does.
//
//nolint:misspell // Spanish words, not English typos
var (
	customerOpeners = []string{
		"Hola, buenas tardes.", "Buenos días.", "Hola.", "Buenas noches, necesito ayuda.",
		"Buen día, una pregunta.", "Hola, ¿me pueden ayudar?", "Buenas.",
	}
	customerLines = []string{
		"Quisiera saber el estado de mi pedido, lo hice hace una semana y no ha llegado.",
		"No me ha llegado la factura de este mes.", "El servicio no funciona desde ayer en la tarde.",
		"Quiero cancelar mi suscripción.", "Me cobraron dos veces el mismo mes, necesito que me devuelvan la plata.",
		"¿Cuál es el horario de atención de la sede del centro?", "Ya hice el pago pero sigue apareciendo pendiente.",
		"Sí, es correcto.", "Ok, gracias.", "Listo, ya lo envié.", "¿Y eso cuánto se demora?",
		"No entiendo, ¿me explica otra vez por favor?", "Llevo tres días esperando una respuesta 😡",
		"Perfecto, muchas gracias por la ayuda 🙂", "El número de pedido es el 458213.",
		"Quiero hablar con un supervisor.", "¿Tienen envío a Medellín?",
	}
	agentLines = []string{
		"Con gusto te ayudo.", "¿Me confirmas tu número de documento, por favor?",
		"Ya reviso tu caso, dame un momento por favor.", "Tu solicitud quedó radicada con el número 20261123-4471.",
		"¿Hay algo más en lo que te pueda ayudar?", "Lamento los inconvenientes, ya escalé tu caso al área encargada.",
		"El reembolso se verá reflejado en un plazo de 5 a 8 días hábiles.",
		"Te comparto el enlace para hacer el pago: https://pagos.example.com/ref/88412",
		"Nuestro horario es de lunes a sábado de 7:00 a. m. a 7:00 p. m.",
		"Veo que el pedido salió ayer de la bodega, debe llegar en dos días.",
		"Gracias por tu paciencia.", "Quedo atento.",
	}
	botGreetings = []string{
		"¡Hola! Soy el asistente virtual. En un momento uno de nuestros asesores te atenderá.",
		"Gracias por escribirnos. Para ayudarte mejor, cuéntanos el motivo de tu consulta; un asesor te atenderá pronto.",
	}
	botClosings = []string{
		"¿Sigues ahí? Si no recibimos respuesta, esta conversación se cerrará por inactividad.",
		"Gracias por comunicarte con nosotros. Califica nuestra atención de 1 a 5.",
	}
	customerWaiting = []string{"¿Hola? ¿Siguen ahí?", "Sigo esperando respuesta.", "Hola???"}
	// More of what each side says, to make messages of every length; some
	// carry quotes, line breaks and emoji, as real ones do.
	customerMore = []string{
		"Es la segunda vez que escribo por lo mismo.", "Ayer me dijeron que ya estaba solucionado y nada.",
		"Les mando la foto del recibo.\n(no sé si se ve bien)", "El asesor anterior me dijo \"mañana\" y no pasó nada.",
		"Vivo en Bogotá, barrio Chapinero.", "Necesito una respuesta hoy porque viajo mañana temprano.",
		"Gracias 🙏", "¿Me pueden enviar el soporte al correo?", "Ya reinicié el módem dos veces.",
		"La referencia de pago es 88412-3.", "Estoy desde el celular, perdón la demora.",
	}
	agentMore = []string{
		"Entiendo tu molestia y te ofrezco disculpas.", "Voy a validar con el área de facturación.",
		"Por políticas de seguridad debo confirmar algunos datos.", "En este momento el sistema está un poco lento, gracias por esperar.",
		"Te dejo el número de radicado para que hagas seguimiento:\n2026-RC-99817", "Recuerda que también puedes consultar en la app, opción \"Mis pedidos\".",
		"Ya quedó registrado el cambio.", "Te llegará un correo de confirmación en las próximas horas 👍",
		"¿Me regalas un momento mientras reviso?", "Fue un gusto atenderte, que tengas buen día.",
	}
)

const (
	minText = 20
	maxText = 300
)

// text appends the text of a message of role to b: 20 to 300 characters of
// plain Spanish, with the customer's phone or e-mail at times.
func (v *convo) text(b []byte, role byte) []byte {
	r, c := v.r, v.c
	start := len(b)
	runes := 0
	add := func(s string) bool {
		n := utf8.RuneCountInString(s)
		sep := 0
		if len(b) > start {
			sep = 1
		}
		if runes+sep+n > maxText {
			return false
		}
		if sep == 1 {
			b = append(b, ' ')
		}
		b = append(b, s...)
		runes += sep + n
		return true
	}
	target := min(280, minText+int(r.ExpFloat64()*50))
	i := v.i - 1 // next has moved past this message
	switch {
	case role == fromBot && i <= 1:
		add(botGreetings[r.IntN(len(botGreetings))])
	case role == fromBot:
		add(botClosings[r.IntN(len(botClosings))])
	case role == fromCustomer && i == 0:
		add(customerOpeners[r.IntN(len(customerOpeners))])
		add(customerLines[r.IntN(len(customerLines))])
	case role == fromCustomer && i == v.n-1 && v.last == fromCustomer:
		add(customerWaiting[r.IntN(len(customerWaiting))])
	case role == fromAgent && i == firstAnswer(v.bot):
		add("Hola")
		add(firstWord(c.CustomerName) + ", mi nombre es " + firstWord(c.AgentName) + ".")
		add(agentLines[r.IntN(len(agentLines))])
	case role == fromCustomer:
		add(customerLines[r.IntN(len(customerLines))])
		// Customers hand over their data in the chat: personal data on the wire.
		if c.CustomerPhone != "" && r.IntN(8) == 0 {
			add("Mi número es " + c.CustomerPhone + ".")
		}
		if c.CustomerEmail != "" && r.IntN(8) == 0 {
			add("Mi correo es " + c.CustomerEmail)
		}
	default:
		add(agentLines[r.IntN(len(agentLines))])
		if c.CustomerEmail != "" && r.IntN(20) == 0 {
			add("Te confirmo el correo registrado: " + c.CustomerEmail)
		}
	}
	more := agentMore
	if role == fromCustomer {
		more = customerMore
	}
	// Short pieces only, so below the target (at most 280) the next always fits in 300.
	for j := r.IntN(len(more)); runes < target; j = (j + 1 + r.IntN(len(more)-1)) % len(more) { // never one twice in a row
		if !add(more[j]) {
			break
		}
	}
	return b
}

func firstWord(s string) string {
	first, _, _ := strings.Cut(s, " ")
	return first
}
