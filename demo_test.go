package main

import (
	"testing"
	"time"
)

func TestParseDemoClock(t *testing.T) {
	now := time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC) // 22:00 the day before in Bogota
	for _, tc := range []struct {
		in, want string // want is RFC 3339, or "" for the wall clock
		wantErr  bool
	}{
		{in: "wall", want: ""},
		{in: "", want: ""}, // the demo's past and present follow the wall clock's hours
		{in: "01:00", want: "2026-11-29T01:00:00-05:00"},
		{in: "10:30", want: "2026-11-29T10:30:00-05:00"},
		{in: "2026-11-23T10:00:00-05:00", want: "2026-11-23T10:00:00-05:00"},
		{in: "2026-11-23T15:00:00Z", want: "2026-11-23T15:00:00Z"},
		{in: "25:00", wantErr: true},
		{in: "10", wantErr: true},
		{in: "tomorrow", wantErr: true},
	} {
		got, err := parseDemoClock(tc.in, now)
		switch {
		case tc.wantErr && err == nil:
			t.Errorf("%q: got %v, want an error", tc.in, got)
		case !tc.wantErr && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case !tc.wantErr && tc.want == "" && !got.IsZero():
			t.Errorf("%q: got %v, want the wall clock (zero)", tc.in, got)
		case !tc.wantErr && tc.want != "" && got.Format(time.RFC3339) != tc.want:
			t.Errorf("%q: got %s, want %s", tc.in, got.Format(time.RFC3339), tc.want)
		}
	}
}
