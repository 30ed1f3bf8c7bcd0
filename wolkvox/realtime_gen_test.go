package wolkvox_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// openChatsAnswer describes a generated api=chats answer.
type openChatsAnswer struct {
	Chats, Messages, Agents int
	Seed                    uint64
	At                      time.Time // the moment described: every message is sent before it
}

var (
	genChannels = []string{"WhatsApp", "whatsapp", "Web", "Facebook", "Instagram"}
	genNames    = []string{"Valentina Quintero", "Juan Pérez", "María Fernanda Ruiz", "Andrés Gómez", "Luisa Martínez", "Camilo Rodríguez"}
	genAgents   = []string{"Luis", "Marta", "Sofía", "Pedro", "Jorge", "Diana"}
	genWords    = strings.Fields(`hola buenos días tardes quisiera saber el estado de mi pedido número factura
		por favor gracias necesito ayuda con la entrega dirección cambio devolución artículo llegó dañado
		cuándo llega señor señora claro con gusto le ayudo ya reviso sistema correo confirmo
		cédula teléfono pago tarjeta transferencia "urgente" ¿precio? envío gratis hoy mañana`)
)

// writeOpenChatsAnswer writes an api=chats answer as REALTIME.md shows it: o.Chats
// open chats of o.Messages messages each, spread over o.Agents agents, messages of
// 20 to 300 characters, with customers' phones and names in from and in the texts.
func writeOpenChatsAnswer(w io.Writer, o openChatsAnswer) error {
	rng := rand.New(rand.NewPCG(o.Seed, 1)) //nolint:gosec // G404: a reproducible test input
	bw := bufio.NewWriter(w)
	str := func(s string) {
		b, _ := json.Marshal(s) // a string always marshals
		_, _ = bw.Write(b)
	}
	phone := func() string {
		return fmt.Sprintf("+57 3%02d %03d %04d", rng.IntN(30), rng.IntN(1000), rng.IntN(10000))
	}
	text := func(customer, phone string) string {
		n := 20 + rng.IntN(281)
		var b strings.Builder
		for b.Len() < n {
			switch rng.IntN(20) {
			case 0:
				b.WriteString("mi número es " + phone)
			case 1:
				b.WriteString("soy " + customer)
			case 2:
				fmt.Fprintf(&b, "pedido #%d", 100000+rng.IntN(900000))
			default:
				b.WriteString(genWords[rng.IntN(len(genWords))])
			}
			b.WriteByte(' ')
		}
		return strings.TrimSpace(strings.ToValidUTF8(b.String()[:n], "")) // cut on a character
	}
	fmt.Fprintf(bw, `{"code":"200","error":null,"msg":"%d records were found","data":[`, o.Agents)
	for a := range o.Agents {
		if a > 0 {
			bw.WriteByte(',')
		}
		agentName := genAgents[a%len(genAgents)]
		fmt.Fprintf(bw, `{"agent_id":"%d","active_chats":[`, 1001+a)
		// Chat i goes to agent i % o.Agents.
		for i, n := a, 0; i < o.Chats; i, n = i+o.Agents, n+1 {
			if n > 0 {
				bw.WriteByte(',')
			}
			customer, custPhone := genNames[rng.IntN(len(genNames))], phone()
			fmt.Fprintf(bw, `{"conn_id":"rt-%06d","channel":`, i)
			str(genChannels[rng.IntN(len(genChannels))])
			bw.WriteString(`,"connector_id":"573000000001","customer_phone":`)
			str(custPhone)
			bw.WriteString(`,"conversation":[`)
			sent := o.At.Add(-time.Duration(o.Messages+rng.IntN(120)) * time.Minute)
			for m := range o.Messages {
				if m > 0 {
					bw.WriteByte(',')
				}
				from := custPhone
				switch {
				case m%2 == 1:
					from = agentName
				case rng.IntN(2) == 0:
					from = customer
				}
				bw.WriteString(`{"from":`)
				str(from)
				bw.WriteString(`,"msg":`)
				str(text(customer, custPhone))
				bw.WriteString(`,"date":"` + sent.Format("2006-01-02 15:04:05") + `"}`)
				sent = sent.Add(time.Duration(5+rng.IntN(55)) * time.Second)
			}
			bw.WriteString(`]}`)
		}
		bw.WriteString(`]}`)
	}
	bw.WriteString(`]}`)
	return bw.Flush()
}
