package simulator

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Traffic is a deterministic synthetic Source with realistic contact-center traffic.
//
// Chats arrive per minute bucket from an RNG seeded by (seed, minute), so any
// window is answered by regenerating the minutes whose chats could close in it.
// The daily pattern follows America/Bogota wall-clock time. Traffic has no
// clock: a window in the future gets the chats that will close then.
type Traffic struct {
	seed      int64
	perMinute float64
	loc       *time.Location

	mu     sync.Mutex
	cache  map[int64][]Chat
	order  []int64 // cached minutes, oldest first
	cached int     // chats in cache
}

const (
	// maxLife bounds Closed-Opened: timeouts close 23h–23h30 after opening, others within ~4.5h.
	maxLife      = 24 * time.Hour
	cacheChats   = 100000 // bounds memory (~50 MB) whatever the rate
	maxPerMinute = 99999
	timeoutShare = 0.35
)

// NewTraffic returns traffic averaging chatsPerHour over a day.
func NewTraffic(seed int64, chatsPerHour float64) *Traffic {
	return &Traffic{
		seed:      seed,
		perMinute: math.Max(chatsPerHour, 0) / 60,
		loc:       bogota(),
		cache:     map[int64][]Chat{},
	}
}

// ChatsClosedBetween returns the chats closed within [from, to], sorted by Closed then ConnID.
func (t *Traffic) ChatsClosedBetween(from, to time.Time) []Chat {
	if to.Before(from) {
		return nil
	}
	first := floorDiv(from.Add(-maxLife).Unix(), 60)
	last := floorDiv(to.Unix(), 60)
	// Long scans would only churn the cache.
	useCache := float64(last-first+1)*t.perMinute <= cacheChats/2
	var out []Chat
	for m := first; m <= last; m++ {
		var cs []Chat
		if useCache {
			cs = t.fromCache(m)
		} else {
			cs = t.generate(m)
		}
		for i := range cs {
			if c := &cs[i]; !c.Closed.Before(from) && !c.Closed.After(to) {
				out = append(out, *c)
			}
		}
	}
	slices.SortFunc(out, func(a, b Chat) int {
		if c := a.Closed.Compare(b.Closed); c != 0 {
			return c
		}
		return strings.Compare(a.ConnID, b.ConnID)
	})
	return out
}

// ChatsOpenAt returns the chats open at at (see OpenSource), sorted by Opened then ConnID.
// Only the minutes of the last maxLife can hold them.
func (t *Traffic) ChatsOpenAt(at time.Time) []Chat {
	first := floorDiv(at.Add(-maxLife).Unix(), 60)
	last := floorDiv(at.Unix(), 60)
	useCache := float64(last-first+1)*t.perMinute <= cacheChats/2
	var found []*Chat // cached minutes are never changed, only dropped
	var idx []int
	for m := first; m <= last; m++ {
		var cs []Chat
		if useCache {
			cs = t.fromCache(m)
		} else {
			cs = t.generate(m)
		}
		idx = idx[:0]
		for i := range cs {
			if openAt(&cs[i], at) {
				idx = append(idx, i)
			}
		}
		// A minute's chats opened within it: sorting each minute sorts them all,
		// and moves indexes rather than chats.
		slices.SortFunc(idx, func(a, b int) int {
			if c := cs[a].Opened.Compare(cs[b].Opened); c != 0 {
				return c
			}
			return strings.Compare(cs[a].ConnID, cs[b].ConnID)
		})
		for _, i := range idx {
			found = append(found, &cs[i])
		}
	}
	out := make([]Chat, len(found))
	for i, c := range found {
		out[i] = *c
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (t *Traffic) fromCache(m int64) []Chat {
	t.mu.Lock()
	cs, ok := t.cache[m]
	t.mu.Unlock()
	if ok {
		return cs
	}
	cs = t.generate(m)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.cache[m]; !ok {
		t.cache[m] = cs
		t.order = append(t.order, m)
		t.cached += len(cs)
		for t.cached > cacheChats {
			t.cached -= len(t.cache[t.order[0]])
			delete(t.cache, t.order[0])
			t.order = t.order[1:]
		}
	}
	return cs
}

// splitmix64 decorrelates nearby (seed, minute) pairs before seeding PCG.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// generate builds the chats that arrived during unix minute m.
func (t *Traffic) generate(m int64) []Chat {
	s := splitmix64(uint64(t.seed)) //nolint:gosec // G115: the seed's bits are hashed; a negative seed is as good as any
	// Fake traffic must come back the same from a seed, and holds nothing secret.
	r := rand.New(rand.NewPCG(splitmix64(s^uint64(m)), splitmix64(s+uint64(m)*0x2545f4914f6cdd1d))) //nolint:gosec // G404: reproducible, not secret
	start := time.Unix(m*60, 0).In(t.loc)
	n := poisson(r, t.perMinute*dailyShape(start))
	n = min(n, maxPerMinute)
	chats := make([]Chat, n)
	for i := range chats {
		chats[i] = newChat(r, fmt.Sprintf("%d%05d", m, i), start)
	}
	return chats
}

// hourly is the relative arrival rate by local hour: quiet at night, busy 8:00–20:00.
var hourly = func() [24]float64 {
	h := [24]float64{
		0.30, 0.22, 0.18, 0.18, 0.20, 0.30, 0.50, 0.85, 1.40, 1.70, 1.80, 1.70,
		1.30, 1.40, 1.70, 1.70, 1.60, 1.40, 1.20, 1.00, 0.75, 0.55, 0.42, 0.35,
	}
	var sum float64
	for _, v := range h {
		sum += v
	}
	for i := range h {
		h[i] *= 24 / sum // mean 1, so chatsPerHour is the daily average
	}
	return h
}()

func dailyShape(local time.Time) float64 {
	h := local.Hour()
	f := float64(local.Minute()) / 60
	return hourly[h]*(1-f) + hourly[(h+1)%24]*f
}

func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 { // normal approximation; Knuth's loop gets slow
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

// logNormal returns whole seconds with the given median, clamped to [lo, hi].
func logNormal(r *rand.Rand, median, sigma, lo, hi float64) time.Duration {
	v := median * math.Exp(sigma*r.NormFloat64())
	v = math.Min(math.Max(math.Round(v), lo), hi)
	return time.Duration(v) * time.Second
}

type weighted[T any] struct {
	v T
	w float64
}

func pick[T any](r *rand.Rand, items []weighted[T]) T {
	var total float64
	for _, it := range items {
		total += it.w
	}
	x := r.Float64() * total
	for _, it := range items {
		if x -= it.w; x < 0 {
			return it.v
		}
	}
	return items[len(items)-1].v
}

type skill struct {
	id        string
	asaMedian float64 // seconds
	asaSigma  float64
	convMed   float64 // seconds of conversation
	agents    []int   // indexes into agents
}

type agent struct{ id, name string }

var agents = []agent{
	{"1001", "Laura Gómez"}, {"1002", "Andrés Restrepo"}, {"1003", "Camila Rodríguez"},
	{"1004", "Juan Pablo Martínez"}, {"1005", "Valentina Herrera"}, {"1006", "Santiago López"},
	{"1007", "Daniela Castro"}, {"1008", "Felipe Ramírez"}, {"1009", "Mariana Ortiz"},
	{"1010", "Sebastián Vargas"}, {"1011", "Natalia Moreno"}, {"1012", "Carlos Jiménez"},
}

var skills = []weighted[skill]{
	{skill{"12", 10, 0.9, 360, []int{0, 1, 4, 6, 9, 11}}, 30}, // sales
	{skill{"14", 18, 1.0, 540, []int{0, 2, 3, 6, 7, 10}}, 30}, // support
	{skill{"17", 8, 0.8, 300, []int{1, 5, 7, 10}}, 15},        // collections
	{skill{"21", 30, 1.2, 600, []int{2, 5, 8, 9}}, 15},        // complaints: slow queue
	{skill{"30", 14, 1.1, 420, []int{3, 4, 8, 11}}, 10},       // after-sales
}

var channels = []weighted[string]{{"WhatsApp", 55}, {"Web", 22}, {"Facebook", 13}, {"Instagram", 10}}

type disposition struct{ code, desc string }

var dispositions = []weighted[disposition]{
	{disposition{"INFO", "Information provided"}, 30},
	{disposition{"SOPORTE", "Issue solved"}, 22},
	{disposition{"SIN_RESPUESTA", "Customer stopped answering"}, 16},
	{disposition{"VENTA", "Sale completed"}, 14},
	{disposition{"RECLAMO", "Complaint registered"}, 10},
	{disposition{"ESCALADO", "Escalated to second level"}, 8},
}

var timeoutDisposition = disposition{"TIMEOUTCHAT", "Closed by timeout"}

var (
	feelingsCalm = []weighted[string]{{"very negative", 4}, {"negative", 9}, {"neutral", 47}, {"positive", 30}, {"very positive", 10}}
	// Long waits sour the mood.
	feelingsWaited  = []weighted[string]{{"very negative", 12}, {"negative", 18}, {"neutral", 45}, {"positive", 20}, {"very positive", 5}}
	lastCoded       = []weighted[string]{{"agent", 72}, {"customer", 20}, {"chat-bot", 8}}
	lastTimedOut    = []weighted[string]{{"customer", 55}, {"agent", 35}, {"chat-bot", 10}}
	contactChannels = map[string][2]float64{ // share with phone, with email
		"WhatsApp": {1, 0.3}, "Web": {0.5, 1}, "Facebook": {0.1, 0.2}, "Instagram": {0.1, 0.2},
	}
)

// Names as {display, e-mail slug}; accents exercise UTF-8 on the wire.
var (
	firstNames = [][2]string{
		{"María", "maria"}, {"José", "jose"}, {"Ana", "ana"}, {"Luis", "luis"}, {"Sofía", "sofia"},
		{"Diego", "diego"}, {"Paula", "paula"}, {"Jorge", "jorge"}, {"Isabella", "isabella"},
		{"Mateo", "mateo"}, {"Lucía", "lucia"}, {"Tomás", "tomas"}, {"Gabriela", "gabriela"},
		{"Nicolás", "nicolas"}, {"Carolina", "carolina"}, {"Miguel", "miguel"},
	}
	lastNames = [][2]string{
		{"García", "garcia"}, {"Pérez", "perez"}, {"Sánchez", "sanchez"}, {"Rojas", "rojas"},
		{"Díaz", "diaz"}, {"Torres", "torres"}, {"Flórez", "florez"}, {"Muñoz", "munoz"},
		{"Quintero", "quintero"}, {"Cardona", "cardona"}, {"Betancur", "betancur"},
		{"Osorio", "osorio"}, {"Zapata", "zapata"}, {"Mejía", "mejia"}, {"Cárdenas", "cardenas"},
	}
	mailDomains = []string{"example.com", "example.net", "example.org", "mail.example.co"}
	comments    = []string{
		"Cliente solicita estado de su pedido", "Pregunta por horarios de atención",
		"Solicita copia de la factura", "Reporta falla en el servicio",
		"Quiere cancelar su suscripción", "Pide hablar con un supervisor",
	}
)

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789"[r.IntN(10)]
	}
	return string(b)
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

func newChat(r *rand.Rand, connID string, minuteStart time.Time) Chat {
	c := Chat{ConnID: connID}
	c.Opened = minuteStart.Add(time.Duration(r.IntN(60)) * time.Second)
	c.Channel = pick(r, channels)
	sk := pick(r, skills)
	c.SkillID = sk.id
	ag := agents[sk.agents[r.IntN(len(sk.agents))]]
	c.AgentID, c.AgentName = ag.id, ag.name

	first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
	c.CustomerName = first[0] + " " + last[0]
	c.CustomerID = strconv.Itoa(10000000 + r.IntN(1190000000))
	share := contactChannels[c.Channel]
	if r.Float64() < share[0] {
		c.CustomerPhone = "573" + digits(r, 9)
	}
	if r.Float64() < share[1] {
		c.CustomerEmail = first[1] + "." + last[1] + strconv.Itoa(r.IntN(100)) + "@" + mailDomains[r.IntN(len(mailDomains))]
	}

	// Long tails: most answers within 20–30 s, some after minutes.
	c.AnswerDelay = logNormal(r, sk.asaMedian, sk.asaSigma, 1, 1200)
	conv := logNormal(r, sk.convMed, 0.9, 20, 4*3600)
	timedOut := r.Float64() < timeoutShare
	var handleShare float64
	if timedOut {
		// Never coded: the platform closes it ~23 h after opening.
		c.Duration = 23*time.Hour + time.Duration(r.IntN(1800))*time.Second
		d := timeoutDisposition
		c.CodAct, c.CodActDescription = d.code, d.desc
		c.LastParticipant = pick(r, lastTimedOut)
		handleShare = uniform(r, 0.4, 0.9)
	} else {
		c.Duration = c.AnswerDelay + conv
		d := pick(r, dispositions)
		c.CodAct, c.CodActDescription = d.code, d.desc
		c.LastParticipant = pick(r, lastCoded)
		handleShare = uniform(r, 0.55, 0.95)
	}
	c.Closed = c.Opened.Add(c.Duration)
	c.HandleTime = time.Duration(math.Round(conv.Seconds()*handleShare)) * time.Second
	if r.IntN(4) == 0 {
		c.HandleTime += 500 * time.Millisecond // served as "95.5"
	}
	c.HandleTime = min(c.HandleTime, c.Duration)

	c.AgentAnswers = max(1, int(math.Round(conv.Minutes()*uniform(r, 0.8, 2.2))))
	c.AgentChars = c.AgentAnswers * int(logNormal(r, 85, 0.5, 5, 2000)/time.Second)
	c.CustomerChars = int(float64(c.AgentAnswers) * uniform(r, 0.6, 1.6) * float64(logNormal(r, 55, 0.6, 2, 2000)/time.Second))

	if c.AnswerDelay > 90*time.Second {
		c.Feeling = pick(r, feelingsWaited)
	} else {
		c.Feeling = pick(r, feelingsCalm)
	}
	if r.IntN(100) < 15 {
		c.Comments = comments[r.IntN(len(comments))]
	}
	return c
}
