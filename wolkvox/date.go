package wolkvox

import (
	"fmt"
	"strings"
	"time"
)

// dateLayouts are the forms of a record's date field that clients meet, tried in
// order. Go's parser also takes a fraction of a second after the seconds.
var dateLayouts = []string{
	"2006-01-02 15:04:05", // what public clients parse
	"2006-01-02 15:04",
	"2006-01-02-15", // the vendor page says year-month-day-hour
	"2006-01-02 15",
	DateLayout,            // the request's date_ini/date_end form, YYYYmmddHHiiss
	time.RFC3339,          // with a zone offset or Z: the offset wins over loc
	"2006-01-02T15:04:05", // RFC 3339 without an offset
	"2006/01/02 15:04:05",
}

// dateForms names dateLayouts for error messages.
const dateForms = "YYYY-MM-DD HH:MM:SS, YYYY-MM-DD HH:MM, YYYY-MM-DD-HH, YYYY-MM-DD HH, YYYYmmddHHiiss, " +
	"YYYY-MM-DDTHH:MM:SS with or without a zone offset, or YYYY/MM/DD HH:MM:SS"

// ParseDate reads a record's date field (Record.Date), the chat's open time, which
// Record.Closed turns into its close time. Wall-clock values are in loc (nil means
// UTC); a value with a zone offset keeps it. Surrounding whitespace is ignored; an
// empty value is ErrEmpty.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrEmpty
	}
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	shown := s
	if len(shown) > 64 {
		shown = shown[:64] + "..."
	}
	return time.Time{}, fmt.Errorf("date %q is not a valid date in a known form (%s)", shown, dateForms)
}
