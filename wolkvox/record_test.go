package wolkvox_test

import (
	"errors"
	"testing"

	"github.com/wolkvox-exporter/wolkvox_exporter/wolkvox"
)

func TestParseSeconds(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    float64
		wantErr error // nil: success; ErrEmpty; errAny: any other error
	}{
		{"95", 95, nil},
		{"95.5", 95.5, nil},
		{" 7 ", 7, nil},
		{"0", 0, nil},
		{"00:01:35", 95, nil},
		{"01:00:00", 3600, nil},
		{"23:10:05", 83405, nil},
		{"27:00:01", 97201, nil}, // hours can exceed 24
		{"100:00:00", 360000, nil},
		{"01:35", 95, nil},
		{"00:00:12.5", 12.5, nil},
		{"", 0, wolkvox.ErrEmpty},
		{"   ", 0, wolkvox.ErrEmpty},
		{"-5", 0, errAny},
		{"abc", 0, errAny},
		{"1:2:3:4", 0, errAny},
		{"00:61:00", 0, errAny},
		{"00:00:60", 0, errAny},
		{"00::10", 0, errAny},
		{"1.5:00:00", 0, errAny},
		{"NaN", 0, errAny},
		{"Inf", 0, errAny},
		{"0x10", 0, errAny},
		{"34.64 %", 0, errAny},
	} {
		got, err := wolkvox.ParseSeconds(tc.in)
		switch {
		case tc.wantErr == nil && (err != nil || got != tc.want):
			t.Errorf("ParseSeconds(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case errors.Is(tc.wantErr, wolkvox.ErrEmpty) && !errors.Is(err, wolkvox.ErrEmpty):
			t.Errorf("ParseSeconds(%q) err = %v; want ErrEmpty", tc.in, err)
		case errors.Is(tc.wantErr, errAny) && (err == nil || errors.Is(err, wolkvox.ErrEmpty)):
			t.Errorf("ParseSeconds(%q) = %v, %v; want a parse error", tc.in, got, err)
		}
	}
}

var errAny = errors.New("any parse error")

func TestParseCount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"120", 120, true},
		{"0", 0, true},
		{"12.0", 12, true},
		{"", 0, false},
		{"-1", 0, false},
		{"many", 0, false},
	} {
		got, err := wolkvox.ParseCount(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseCount(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestRecordTimedOut(t *testing.T) {
	for _, tc := range []struct {
		code string
		want bool
	}{
		{"TIMEOUTCHAT", true},
		{"timeoutchat", true},
		{" TimeoutChat ", true},
		{"SALE", false},
		{"", false},
		{"TIMEOUTCHAT2", false},
	} {
		if got := (&wolkvox.Record{CodAct: tc.code}).TimedOut(); got != tc.want {
			t.Errorf("cod_act %q: timed out %v, want %v", tc.code, got, tc.want)
		}
	}
}
