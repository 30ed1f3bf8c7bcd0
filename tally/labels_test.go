package tally

import (
	"hash/fnv"
	"strings"
	"testing"
)

// Label values are made safe whatever a record holds; the API's spellings are
// normalized by the wolkvox package (TestForms).
func TestCleanValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Sale\tclosed \n ok", "Sale closed ok"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{strings.Repeat("é", 150), strings.Repeat("é", maxValueLen)},
		{"", "unknown"},
		{"  ", "unknown"},
		{"google business", "google business"},
	} {
		if got := cleanValue(tc.in); got != tc.want {
			t.Errorf("cleanValue(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLabelLimiter(t *testing.T) {
	base := newLimiter(2)
	staged := newLimiter(2)
	got := []string{
		staged.admit(base, "channel", "a"), staged.admit(base, "channel", "b"), staged.admit(base, "channel", "c"),
		staged.admit(base, "channel", "a"), staged.admit(base, "skill", "c"),
	}
	if strings.Join(got, ",") != "a,b,other,a,c" {
		t.Fatalf("admitted %v", got)
	}
	// Staged values count only once merged: a discarded batch frees its slots.
	if next := newLimiter(2).admit(base, "channel", "c"); next != "c" {
		t.Fatalf("an unmerged batch kept its values: got %q", next)
	}
	base.merge(staged)
	if next := newLimiter(2).admit(base, "channel", "c"); next != "other" {
		t.Fatalf("after the merge the limit is not enforced: got %q", next)
	}
}

// ConnKey is saved in state files, so it must stay FNV-1a 64 forever.
func TestConnKeyIsFNV1a(t *testing.T) {
	for _, id := range []string{"", "a", "WV-000000000001", "conn_ñ_\x00_id", strings.Repeat("x", 1000)} {
		h := fnv.New64a()
		h.Write([]byte(id))
		if got, want := ConnKey(id), h.Sum64(); got != want {
			t.Errorf("ConnKey(%q) = %x, want %x", id, got, want)
		}
	}
	if got := ConnKey("a"); got != 0xaf63dc4c8601ec8c {
		t.Errorf("ConnKey(\"a\") = %x, the published FNV-1a 64 value is af63dc4c8601ec8c", got)
	}
}
