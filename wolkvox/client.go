// Package wolkvox talks to the Wolkvox chat_1 report API and the real-time APIs,
// and knows their quirks.
package wolkvox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	promconfig "github.com/prometheus/common/config"

	"github.com/wolkvox-exporter/wolkvox_exporter/config"
)

// Result classifies the outcome of one API call. Every call that reached the API
// costs one call of the daily quota, whatever its result; an unreachable one, whose
// request was never sent, costs none.
type Result string

// The results of a call, as the result label of wolkvox_api_requests_total.
const (
	ResultSuccess            Result = "success"
	ResultEmpty              Result = "empty"
	ResultUnauthorized       Result = "unauthorized"
	ResultQuotaExceeded      Result = "quota_exceeded"
	ResultConcurrencyLimited Result = "concurrency_limited"
	ResultHTTPError          Result = "http_error"
	ResultAPIError           Result = "api_error"
	ResultTimeout            Result = "timeout"
	ResultDecodeError        Result = "decode_error"
	// ResultUnreachable: the request was never sent (no address for the host, no
	// connection, no TLS handshake), so the API never saw it.
	ResultUnreachable Result = "unreachable"
)

// Results lists every Result, so counters can start at zero.
var Results = []Result{
	ResultSuccess, ResultEmpty, ResultUnauthorized, ResultQuotaExceeded, ResultConcurrencyLimited,
	ResultHTTPError, ResultAPIError, ResultTimeout, ResultDecodeError, ResultUnreachable,
}

// CostsQuota tells whether a call with result r spent a call of the daily quota.
func (r Result) CostsQuota() bool { return r != ResultUnreachable }

// SpentQuota tells whether a call that returned err cost one of the daily quota:
// every call the API saw, whatever it answered.
func SpentQuota(err error) bool {
	if errors.Is(err, ErrNotSent) {
		return false
	}
	we, ok := errors.AsType[*Error](err)
	return !ok || we.Result.CostsQuota()
}

// RecordCap is the most records one answer holds; an answer with that many was cut.
const RecordCap = 60000

// DateLayout is the layout of date_ini and date_end (YYYYmmddHHiiss).
const DateLayout = "20060102150405"

const (
	reportPath   = "/api/v2/reports_manager.php"
	realtimePath = "/api/v2/real_time.php"
)

// API names an API the exporter calls, as its api parameter names it; it is the
// api label of the exporter's call metrics.
type API string

// The APIs the exporter calls.
const (
	APIChat1  API = "chat_1"
	APIChats  API = "chats"  // real_time.php?api=chats: the chats open now
	APIAgents API = "agents" // real_time.php?api=agents: each agent's state now
)

// RealtimeAPIs lists the real-time APIs, so their counters can start at zero.
var RealtimeAPIs = []API{APIChats, APIAgents}

// ErrNotSent reports a call that was never sent, so it cost no quota.
var ErrNotSent = errors.New("call not sent")

// Error is a failed call, with its Result. Its text never holds the token.
type Error struct {
	Result Result
	Status int    // HTTP status, 0 if none was received
	Detail string // what went wrong, from the server or the transport
	err    error
}

func (e *Error) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s: HTTP %d: %s", e.Result, e.Status, e.Detail)
	}
	return fmt.Sprintf("%s: %s", e.Result, e.Detail)
}

func (e *Error) Unwrap() error { return e.err }

// Answer describes a successful call.
type Answer struct {
	Result  Result // ResultSuccess or ResultEmpty
	Records int    // records decoded, including ones the callback may later skip
	// NotRecords counts the elements of data that were not records (a string, a
	// number, a list or a boolean): skipped, while the records around them count.
	NotRecords int
	Status     int
	// Truncated is set when the answer hit the record cap: part of the window is
	// missing from it.
	Truncated bool
}

// Options configure a Client.
type Options struct {
	BaseURL         string // e.g. https://wv0010.wolkvox.com
	Server          string
	Token           promconfig.Secret
	Location        *time.Location // zone of date_ini/date_end
	MaxResponseSize int64
	// RequestTimeout bounds each call, the wait for the token's other calls
	// included; 0 leaves it to the caller's context.
	RequestTimeout time.Duration
	RecordCap      int // 0 means RecordCap
	UserAgent      string
	Transport      http.RoundTripper // nil means a clone of http.DefaultTransport
	// Tokens is shared by all the caller's clients; nil gives the client a Tokens of
	// its own (tests, the backfill command).
	Tokens *Tokens
}

// OperationOptions are the options of a client of operation op; the caller adds
// the user agent and, in tests, a transport or record cap.
func OperationOptions(op config.Operation) Options {
	return Options{
		BaseURL: op.URL(), Server: op.Server, Token: op.APIToken(), Location: op.Location(),
		MaxResponseSize: int64(op.MaxResponseSize), RequestTimeout: time.Duration(op.RequestTimeout),
	}
}

// Serves tells whether c was made for the operation options o (OperationOptions),
// so that it may go on serving where a client with o is asked for. The other
// options, Tokens among them, are the caller's own, the same for all its clients.
func (c *Client) Serves(o Options) bool {
	a := c.options
	return a.BaseURL == o.BaseURL && a.Server == o.Server && a.Token == o.Token &&
		a.MaxResponseSize == o.MaxResponseSize && a.RequestTimeout == o.RequestTimeout && c.loc.String() == zoneOf(o.Location).String()
}

func zoneOf(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// Client queries the chat_1 report and the real-time APIs of one operation.
type Client struct {
	options   Options
	endpoint  *url.URL // chat_1's
	realtime  *url.URL
	server    string
	token     promconfig.Secret
	loc       *time.Location
	maxBytes  int64
	recordCap int
	userAgent string
	http      *http.Client
	shared    *Token
}

// NewClient returns a Client. Calls of every Client with the same token and Tokens
// are serialized, whatever their API: the API allows two at once per token, and
// the exporter keeps a margin.
func NewClient(o Options) (*Client, error) {
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("base URL %q is not an absolute URL", o.BaseURL)
	}
	endpoint := base.JoinPath(reportPath)
	tokens := o.Tokens
	if tokens == nil {
		tokens = NewTokens()
	}
	transport := o.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	loc := zoneOf(o.Location)
	recordCap := o.RecordCap
	if recordCap <= 0 {
		recordCap = RecordCap
	}
	c := &Client{
		options:   o,
		recordCap: recordCap,
		endpoint:  endpoint,
		realtime:  base.JoinPath(realtimePath),
		server:    o.Server,
		token:     o.Token,
		loc:       loc,
		maxBytes:  o.MaxResponseSize,
		userAgent: o.UserAgent,
		shared:    tokens.For(o.Token),
	}
	c.http = &http.Client{Transport: transport, CheckRedirect: sameHostRedirects(endpoint)}
	return c, nil
}

// Token returns the state the client's calls share with every call made with its
// token through a client of the same Tokens.
func (c *Client) Token() *Token { return c.shared }

// sameHostRedirects refuses a redirect that would carry the token to another host or
// over plain HTTP: Go forwards custom headers such as wolkvox-token on redirects.
func sameHostRedirects(endpoint *url.URL) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !strings.EqualFold(req.URL.Host, endpoint.Host) || req.URL.Scheme != endpoint.Scheme {
			return fmt.Errorf("refused redirect to %s://%s: the token goes only to %s", req.URL.Scheme, req.URL.Host, endpoint.Host)
		}
		if len(via) >= 3 {
			return errors.New("stopped after 3 redirects")
		}
		return nil
	}
}

// Chats asks for the chats closed in [from, to] and calls each for every record of
// the answer, as it is decoded. On error, records already passed to each belong to
// a failed answer: the caller must discard what it built from them.
func (c *Client) Chats(ctx context.Context, from, to time.Time, each func(*Record)) (Answer, error) {
	u := *c.endpoint
	q := url.Values{}
	q.Set("api", string(APIChat1))
	ini, end := wallWindow(from, to, c.loc)
	q.Set("date_ini", ini)
	q.Set("date_end", end)
	u.RawQuery = q.Encode()
	var n elements
	result, status, err := c.call(ctx, &u, func(body io.Reader) (envelope, error) {
		var env envelope
		var err error
		n, env, err = decodeAnswer(body, each)
		return env, err
	})
	switch {
	case err != nil:
		return Answer{}, err
	case result == ResultEmpty:
		return Answer{Result: ResultEmpty, Status: status}, nil
	case n.records == 0:
		return Answer{Result: ResultEmpty, NotRecords: n.notRecords, Status: status}, nil
	}
	// The cap counts the answer's elements, whatever they hold.
	return Answer{Result: ResultSuccess, Records: n.records, NotRecords: n.notRecords, Status: status,
		Truncated: n.records+n.notRecords >= c.recordCap}, nil
}

// call makes one call to u, of any API, under the token's lock, and reads a 200
// answer with decode. It returns ResultEmpty when the API said it has nothing (a
// 404 with Wolkvox JSON, or such a code inside a 200 answer), else ResultSuccess:
// the caller tells from what decode read whether the answer held anything. On
// error, what decode built belongs to a failed answer.
func (c *Client) call(ctx context.Context, u *url.URL, decode func(io.Reader) (envelope, error)) (Result, int, error) {
	if t := c.options.RequestTimeout; t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if err := c.shared.acquire(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", 0, fmt.Errorf("%w: another call with the same token outlasted the request timeout", ErrNotSent)
		}
		return "", 0, fmt.Errorf("%w: stopped while another call with the same token ran: %w", ErrNotSent, err)
	}
	defer c.shared.release()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", 0, &Error{Result: ResultHTTPError, Detail: "build request: " + err.Error(), err: err}
	}
	// Header names as the vendor documents them (the map keeps their exact case).
	req.Header["wolkvox_server"] = []string{c.server}
	req.Header["wolkvox-token"] = []string{string(c.token)}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}

	// Whether the request left: a call that failed before cost no quota.
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) { sent.Store(info.Err == nil) },
	}))
	resp, err := c.http.Do(req)
	if err != nil {
		if !sent.Load() {
			return "", 0, c.unreachable(err)
		}
		return "", 0, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	conn := &readFailure{r: resp.Body}
	body := &cappedReader{r: conn, left: c.maxBytes}

	if resp.StatusCode != http.StatusOK {
		result, err := c.errorAnswer(ctx, resp.StatusCode, body)
		return result, resp.StatusCode, err
	}
	env, err := decode(body)
	if err != nil {
		if e := c.transportError(ctx, err); e.Result == ResultTimeout {
			return "", 0, e
		}
		if conn.err != nil {
			// The connection failed mid-answer (reset, cut): a network failure, not a
			// malformed answer.
			e := c.transportError(ctx, conn.err)
			e.Status, e.Detail = resp.StatusCode, "connection failed during the answer: "+e.Detail
			return "", 0, e
		}
		return "", 0, &Error{Result: ResultDecodeError, Status: resp.StatusCode, Detail: c.redact(err.Error()), err: err}
	}
	// code is checked inside a 200 answer too.
	if env.hasCode && env.code != http.StatusOK {
		result := classify(env.code, env.text(), true)
		if result == ResultEmpty {
			return ResultEmpty, resp.StatusCode, nil
		}
		return "", 0, &Error{Result: result, Status: resp.StatusCode, Detail: c.redact(fmt.Sprintf("code %d: %s", env.code, env.text()))}
	}
	return ResultSuccess, resp.StatusCode, nil
}

// errorAnswer reads a non-200 answer. A 404 carrying Wolkvox JSON is how the API
// says "nothing": no records in the window, nothing open now.
func (c *Client) errorAnswer(ctx context.Context, status int, body io.Reader) (Result, error) {
	const errorBodyCap = 64 << 10
	raw, readErr := io.ReadAll(io.LimitReader(body, errorBodyCap))
	if readErr != nil {
		if e := c.transportError(ctx, readErr); e.Result == ResultTimeout {
			return "", e
		}
	}
	env, isWolkvox := parseEnvelope(raw)
	code := status
	if isWolkvox && env.hasCode && env.code != http.StatusOK {
		code = env.code
	}
	result := classify(code, env.text(), isWolkvox)
	if status == http.StatusUnauthorized {
		result = ResultUnauthorized
	}
	if result == ResultEmpty {
		return ResultEmpty, nil
	}
	detail := env.text()
	if !isWolkvox {
		// Redact before the snippet is cut and quoted, either of which would leave
		// part of an echoed token that redact no longer recognizes.
		detail = "answer is not Wolkvox JSON: " + snippet([]byte(c.redact(string(raw))))
	}
	return "", &Error{Result: result, Status: status, Detail: c.redact(detail)}
}

// classify maps a status or body code and the server's text to a Result.
func classify(code int, text string, isWolkvox bool) Result {
	upper := strings.ToUpper(text)
	switch {
	case strings.Contains(upper, "TOKEN LIMIT EXCEEDED"):
		return ResultQuotaExceeded
	case strings.Contains(upper, "SIMULTANEOUS REQUESTS"):
		return ResultConcurrencyLimited
	case code == http.StatusUnauthorized, strings.Contains(upper, "VALIDATE TOKEN"), strings.Contains(upper, "WOLKVOX-TOKEN"):
		return ResultUnauthorized
	case !isWolkvox:
		return ResultHTTPError
	case code == http.StatusNotFound && !strings.Contains(upper, "DOES NOT EXIST"):
		return ResultEmpty
	default:
		return ResultAPIError
	}
}

func (c *Client) transportError(ctx context.Context, err error) *Error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Result: ResultTimeout, Detail: "no complete answer before the request timeout", err: err}
	}
	// url.Error repeats the URL; the inner error is enough and keeps the text short.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return &Error{Result: ResultHTTPError, Detail: c.redact(err.Error()), err: err}
}

// unreachable is a call whose request was never sent.
func (c *Client) unreachable(err error) *Error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return &Error{Result: ResultUnreachable, Detail: "the request was not sent, and cost no quota: " + c.redact(err.Error()), err: err}
}

// redact removes the token from text that came from outside, in case a server or
// proxy echoes it back.
func (c *Client) redact(s string) string {
	if tok := string(c.token); tok != "" {
		s = strings.ReplaceAll(s, tok, "<secret>")
	}
	return s
}

// snippet is a short, printable excerpt of a body for error messages.
func snippet(raw []byte) string {
	const maxLen = 120
	s := strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(raw), "?"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxLen {
		s = s[:maxLen] + "..."
	}
	if s == "" {
		return "(empty body)"
	}
	return fmt.Sprintf("%q", s)
}

// readFailure keeps the first error other than io.EOF that reading the body met.
type readFailure struct {
	r   io.Reader
	err error
}

func (f *readFailure) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && f.err == nil {
		f.err = err
	}
	return n, err
}

// errTooLarge is returned once an answer passes the size cap, and on every read
// after, so a decoder that reads again does not see the end of a cut answer.
var errTooLarge = errors.New("answer exceeds max_response_size")

type cappedReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errTooLarge
	}
	if c.left <= 0 {
		// Probe for one more byte to tell "exactly at the cap" from "over it".
		var one [1]byte
		if n, _ := c.r.Read(one[:]); n > 0 {
			c.over = true
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}
