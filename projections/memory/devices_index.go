package memory

// chunkMax bounds a chunk of an ordered index: inserting moves at most this
// many pointers, and finding the page at an offset walks len/chunkMax*2
// chunk lengths at most.
const chunkMax = 512

// ordered keeps devices sorted by less, in chunks, so that inserting or
// removing one device among a million costs a binary search and a small
// copy, and a page at any offset is found without sorting or walking the
// whole set. (A sorted slice would copy half a million pointers per insert
// during replay; a map would have to be sorted per request.)
type ordered struct {
	byLabel bool // else by id
	chunks  [][]*device
	n       int
}

func newOrdered(byLabel bool) *ordered { return &ordered{byLabel: byLabel} }

// less is inlined in the binary searches: replay inserts every device in
// two or three indexes, so comparisons are most of the cost of applying.
func (o *ordered) less(a, b *device) bool {
	if o.byLabel && a.label != b.label {
		return a.label < b.label
	}
	return a.id < b.id
}

// lowerBound is the first index of c whose element is not less than d.
func (o *ordered) lowerBound(c []*device, d *device) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if o.less(c[m], d) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upperBound is the first index of c whose element d is less than.
func (o *ordered) upperBound(c []*device, d *device) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !o.less(d, c[m]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (o *ordered) Len() int { return o.n }

// chunkFor is the index of the chunk where d belongs: the first whose last
// element is not less than d, or the last chunk.
func (o *ordered) chunkFor(d *device) int {
	lo, hi := 0, len(o.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := o.chunks[m]
		if o.less(c[len(c)-1], d) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	i := lo
	if i == len(o.chunks) {
		i--
	}
	return i
}

func (o *ordered) insert(d *device) {
	o.n++
	if len(o.chunks) == 0 {
		o.chunks = append(o.chunks, []*device{d})
		return
	}
	ci := o.chunkFor(d)
	c := o.chunks[ci]
	j := o.upperBound(c, d)
	c = append(c, nil)
	copy(c[j+1:], c[j:])
	c[j] = d
	if len(c) <= chunkMax {
		o.chunks[ci] = c
		return
	}
	// Split in two halves, each with room to grow.
	half := len(c) / 2
	left := make([]*device, half, chunkMax)
	copy(left, c[:half])
	right := make([]*device, len(c)-half, chunkMax)
	copy(right, c[half:])
	o.chunks = append(o.chunks, nil)
	copy(o.chunks[ci+2:], o.chunks[ci+1:])
	o.chunks[ci], o.chunks[ci+1] = left, right
}

// remove takes d out; d must be ordered as when it was inserted.
func (o *ordered) remove(d *device) bool {
	if len(o.chunks) == 0 {
		return false
	}
	ci := o.chunkFor(d)
	c := o.chunks[ci]
	j := o.lowerBound(c, d)
	for ; j < len(c) && !o.less(d, c[j]); j++ {
		if c[j] != d {
			continue
		}
		copy(c[j:], c[j+1:])
		c[len(c)-1] = nil
		c = c[:len(c)-1]
		o.n--
		if len(c) == 0 {
			copy(o.chunks[ci:], o.chunks[ci+1:])
			o.chunks[len(o.chunks)-1] = nil
			o.chunks = o.chunks[:len(o.chunks)-1]
		} else {
			o.chunks[ci] = c
		}
		return true
	}
	return false
}

// each calls fn for the devices in order from offset on, until fn returns
// false.
func (o *ordered) each(offset int, fn func(*device) bool) {
	ci := 0
	for ci < len(o.chunks) && offset >= len(o.chunks[ci]) {
		offset -= len(o.chunks[ci])
		ci++
	}
	for ; ci < len(o.chunks); ci++ {
		for _, d := range o.chunks[ci][offset:] {
			if !fn(d) {
				return
			}
		}
		offset = 0
	}
}

// Index orders: by label (then id, so equal labels page stably) or by id.
const (
	orderByID    = false
	orderByLabel = true
)
