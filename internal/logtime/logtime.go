// Package logtime writes the times in log lines: all in one zone, the process's
// local time zone (TZ), with its offset, so that a line's time= and the times it
// holds read alike.
package logtime

import (
	"time"

	"github.com/go-kit/log"
)

// Format writes t as a log value.
func Format(t time.Time) string { return t.Local().Format(time.RFC3339) }

// Timestamp is the value of time=, to the millisecond.
var Timestamp = log.TimestampFormat(time.Now, "2006-01-02T15:04:05.000Z07:00")
