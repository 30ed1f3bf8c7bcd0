package simulator

import (
	"io"
	"math/rand/v2"
	"strconv"
	"time"
	"unicode/utf8"
)

// AnswerOptions shape an answer made by NewAnswerReader.
type AnswerOptions struct {
	Records int   // records in the answer
	Seed    int64 // the same options give the same bytes
	// AnswersKey is the key of AgentAnswers; "" means the documented "agent_anwers "
	// with its trailing space.
	AnswersKey string
	// EscapeUnicode writes non-ASCII text as \uXXXX escapes (surrogate pairs beyond
	// the BMP) and "/" as "\/", as PHP's json_encode does by default.
	EscapeUnicode bool
	// Day is the start of the day over which chats open; zero means 2026-11-23 in Bogota.
	Day time.Time
}

// NewAnswerReader returns a complete 200 chat_1 answer of o.Records generated chats,
// for benchmarks and memory tests of the whole wire path. Records carry real field
// lengths: customer names, emails and phones, a comment of 200 to 2,000 characters
// on about a fifth of them (with quotes, line breaks and emoji), and the fields the
// vendor page does not list (date_close, transfer, ...). code is the number 200 for
// odd seeds and the string "200" for even ones.
//
// Records are generated as the answer is read, so its memory does not grow with
// o.Records: tests can stream tens of megabytes without holding them.
func NewAnswerReader(o AnswerOptions) io.Reader {
	if o.AnswersKey == "" {
		o.AnswersKey = "agent_anwers "
	}
	s := splitmix64(uint64(o.Seed)) //nolint:gosec // G115: any seed bits will do
	return &answerReader{
		o:      o,
		r:      rand.New(rand.NewPCG(s, splitmix64(s))), //nolint:gosec // G404: reproducible fake data, not secrets
		prefix: 10000000 + int64(s%90000000),
		loc:    bogota(),
	}
}

// WriteAnswer writes the answer of NewAnswerReader(o) to w.
func WriteAnswer(w io.Writer, o AnswerOptions) (int64, error) {
	return io.Copy(w, NewAnswerReader(o))
}

// answerBase is the start of the day over which generated chats are spread.
var answerBase = time.Date(2026, 11, 23, 0, 0, 0, 0, time.FixedZone("GMT-5", -5*3600))

type answerReader struct {
	o      AnswerOptions
	r      *rand.Rand
	prefix int64 // conn_ids are prefix followed by the record number
	loc    *time.Location

	next    int // records made so far
	done    bool
	started bool
	pieces
	rec []byte
}

func (a *answerReader) Read(p []byte) (int, error) { return a.read(p, a.fill) }

// pieces is an answer written a piece at a time into buf, of which pos has been read.
type pieces struct {
	buf []byte
	pos int
}

// read reads the pieces into p, with fill making the next piece, or false at the end.
func (a *pieces) read(p []byte, fill func() bool) (int, error) {
	n := 0
	for n < len(p) {
		if a.pos == len(a.buf) && !fill() {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		m := copy(p[n:], a.buf[a.pos:])
		a.pos += m
		n += m
	}
	return n, nil
}

// fill makes the next piece of the answer: the header, one record, or the end.
func (a *answerReader) fill() bool {
	a.buf, a.pos = a.buf[:0], 0
	switch {
	case a.done:
		return false
	case !a.started:
		a.started = true
		code := `"200"`
		if a.o.Seed%2 != 0 {
			code = "200"
		}
		a.buf = append(a.buf, `{"code":`...)
		a.buf = append(a.buf, code...)
		a.buf = append(a.buf, `,"error":null,"msg":"`...)
		a.buf = strconv.AppendInt(a.buf, int64(a.o.Records), 10)
		a.buf = append(a.buf, ` records were found","data":[`...)
		return true
	case a.next == a.o.Records:
		a.done = true
		a.buf = append(a.buf, "]}"...)
		return true
	}
	i := a.next
	a.next++
	if i > 0 {
		a.buf = append(a.buf, ',')
	}
	day := 24 * time.Hour
	base := answerBase
	if !a.o.Day.IsZero() {
		base = a.o.Day
	}
	start := base.Add(time.Duration(int64(day) / int64(max(a.o.Records, 1)) * int64(i))).Truncate(time.Minute)
	c := newChat(a.r, strconv.FormatInt(a.prefix*1000000+int64(i), 10), start)
	if a.r.IntN(5) == 0 {
		c.Comments = comment(a.r, 200+a.r.IntN(1801))
	}
	// appendRecord opens the object only on an empty buffer.
	a.rec = appendRecord(a.rec[:0], &c, a.loc, a.o.AnswersKey)
	if a.o.EscapeUnicode {
		a.buf = escapeLikePHP(a.buf, a.rec)
	} else {
		a.buf = append(a.buf, a.rec...)
	}
	return true
}

var commentWords = []string{
	"el", "cliente", "solicita", "información", "sobre", "su", "pedido", "número", "y", "la",
	"factura", "del", "mes", "pasado", "indica", "que", "no", "ha", "recibido", "respuesta",
	"después", "de", "varios", "días", "se", "le", "explica", "el", "procedimiento", "para",
	"radicar", "una", "petición", "queja", "o", "reclamo", "ante", "área", "encargada", "con",
	"copia", "al", "correo", "registrado", "agradece", "atención", "pero", "manifiesta",
	"inconformidad", "por", "tiempo", "espera", "en", "línea", "confirma", "dirección", "envío",
	"teléfono", "contacto", "horario", "disponible", "mañana", "tarde", "señor", "señora",
}

var commentExtras = []string{`"urgente"`, "\n", "🙂", "👍", "N.º", "…", "\t", "(sic)", "3/4"}

// comment is free text of about n characters, as agents and customers write it.
func comment(r *rand.Rand, n int) string {
	b := make([]byte, 0, n+16)
	chars := 0
	for chars < n {
		w := commentWords[r.IntN(len(commentWords))]
		if r.IntN(25) == 0 {
			w = commentExtras[r.IntN(len(commentExtras))]
		}
		if len(b) > 0 {
			b = append(b, ' ')
			chars++
		}
		b = append(b, w...)
		chars += utf8.RuneCountInString(w)
	}
	return string(b)
}

// escapeLikePHP appends src, JSON written by appendRecord, with every non-ASCII
// rune as \uXXXX and "/" as "\/". Both occur only inside strings, so a byte-level
// rewrite keeps the JSON valid.
func escapeLikePHP(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c == '/' {
			dst = append(dst, '\\', '/')
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		i += size
		if r >= 0x10000 {
			r -= 0x10000
			dst = appendU(dst, 0xD800+(r>>10))
			dst = appendU(dst, 0xDC00+(r&0x3FF))
			continue
		}
		dst = appendU(dst, r)
	}
	return dst
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}
