package chaos

import "fmt"

// seen counts what one place shows: per key, per record id (a Kafka
// record's event or message id or its DATA sequence, a socket frame's
// sequence), how often.
type seen map[string]map[string]int

func (s seen) add(key, id string) {
	if s[key] == nil {
		s[key] = map[string]int{}
	}
	s[key][id]++
}

// tally compares a place with the acknowledged keys that match want:
// lost are acknowledged keys absent; again are copies of a record already
// seen (same id); twice are keys shown with more than one id or, where
// there are no ids (history), more than once: a write stored twice.
type tally struct {
	checked, lost, again, twice int
	example                     []string
}

func count(acked map[string]bool, want func(string) bool, s seen) tally {
	var tl tally
	for k := range acked {
		if !want(k) {
			continue
		}
		tl.checked++
		if len(s[k]) == 0 {
			tl.lost++
			if len(tl.example) < 5 {
				tl.example = append(tl.example, "lost "+k)
			}
		}
	}
	for k, ids := range s {
		if !want(k) {
			continue
		}
		if len(ids) > 1 || ids[""] > 1 {
			tl.twice++
			if len(tl.example) < 5 {
				tl.example = append(tl.example, fmt.Sprintf("twice %s %v", k, ids))
			}
		}
		for id, n := range ids {
			if id != "" {
				tl.again += n - 1
			}
		}
	}
	return tl
}

func (tl tally) String() string {
	return fmt.Sprintf("%d checked, %d lost, %d stored twice, %d copies", tl.checked, tl.lost, tl.twice, tl.again)
}
