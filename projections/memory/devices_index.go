package memory

// chunkMax bounds a chunk of an ordered index: inserting moves at most this
// many entries, and finding the page at an offset walks len/chunkMax*2
// chunk lengths at most.
const chunkMax = 256

// ordered keeps devices sorted (by id, or by label then id), in chunks, so
// that inserting or removing one device among a million costs a binary
// search and a small copy, and a page at any offset is found without
// sorting or walking the whole set. (A sorted slice would copy half a
// million pointers per insert during replay; a map would have to be sorted
// per request.)
//
// Each entry carries the first 16 bytes of its sort string as two integers
// (see prefixKey), so a binary search compares integers in the chunk it
// reads instead of following a pointer to the device and another to its
// string at every step: replay inserts every device in both indexes, and
// those cache misses were most of the cost of applying a device.created.
// Entries name their device by its handle in a slab, not by pointer: the
// chunks hold no pointers, so the garbage collector neither scans them
// nor makes every shifting copy pay write barriers.
type ordered struct {
	byLabel bool // else by id
	slab    *slab
	chunks  [][]entry
	n       int
}

// entry is a device with the key it is ordered by: k0, k1 are the first
// and next 8 bytes of the label (by label) or of the id (by id).
type entry struct {
	k0, k1 uint64
	h      uint32 // the device's handle in the slab
}

func newOrdered(byLabel bool, s *slab) *ordered { return &ordered{byLabel: byLabel, slab: s} }

// slab gives each device of a tenant a small integer handle, reused after
// the device is deleted.
type slab struct {
	devs []*device
	free []uint32
}

func (s *slab) add(d *device) {
	if n := len(s.free); n > 0 {
		d.h = s.free[n-1]
		s.free = s.free[:n-1]
		s.devs[d.h] = d
		return
	}
	d.h = uint32(len(s.devs))
	s.devs = append(s.devs, d)
}

func (s *slab) drop(d *device) {
	s.devs[d.h] = nil
	s.free = append(s.free, d.h)
}

// prefixKey is s[off:off+8] as a big-endian integer, zero-padded: for two
// strings whose bytes before off are equal, different keys order them as
// the strings compare; equal keys decide nothing (the strings may differ
// later, or by trailing NULs), and the strings themselves are compared.
func prefixKey(s string, off int) uint64 {
	var k uint64
	for i := range 8 {
		k <<= 8
		if off+i < len(s) {
			k |= uint64(s[off+i])
		}
	}
	return k
}

func (o *ordered) entry(d *device) entry {
	s := d.id
	if o.byLabel {
		s = d.label
	}
	return entry{k0: prefixKey(s, 0), k1: prefixKey(s, 8), h: d.h}
}

// less orders a before b: by key, then (keys equal) by the strings.
func (o *ordered) less(a, b *entry) bool {
	if a.k0 != b.k0 {
		return a.k0 < b.k0
	}
	if a.k1 != b.k1 {
		return a.k1 < b.k1
	}
	da, db := o.slab.devs[a.h], o.slab.devs[b.h]
	if o.byLabel && da.label != db.label {
		return da.label < db.label
	}
	return da.id < db.id
}

// lowerBound is the first index of c whose element is not less than e.
func (o *ordered) lowerBound(c []entry, e *entry) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if o.less(&c[m], e) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// upperBound is the first index of c whose element e is less than.
func (o *ordered) upperBound(c []entry, e *entry) int {
	lo, hi := 0, len(c)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if !o.less(e, &c[m]) {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (o *ordered) Len() int { return o.n }

// chunkFor is the index of the chunk where e belongs: the first whose last
// element is not less than e, or the last chunk.
func (o *ordered) chunkFor(e *entry) int {
	lo, hi := 0, len(o.chunks)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		c := o.chunks[m]
		if o.less(&c[len(c)-1], e) {
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
	e := o.entry(d)
	o.n++
	if len(o.chunks) == 0 {
		o.chunks = append(o.chunks, []entry{e})
		return
	}
	ci := o.chunkFor(&e)
	c := o.chunks[ci]
	j := o.upperBound(c, &e)
	c = append(c, entry{})
	copy(c[j+1:], c[j:])
	c[j] = e
	if len(c) <= chunkMax {
		o.chunks[ci] = c
		return
	}
	// Split in two halves, each with room to grow.
	half := len(c) / 2
	left := make([]entry, half, chunkMax)
	copy(left, c[:half])
	right := make([]entry, len(c)-half, chunkMax)
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
	e := o.entry(d)
	ci := o.chunkFor(&e)
	c := o.chunks[ci]
	j := o.lowerBound(c, &e)
	for ; j < len(c) && !o.less(&e, &c[j]); j++ {
		if c[j].h != d.h {
			continue
		}
		copy(c[j:], c[j+1:])
		c[len(c)-1] = entry{}
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
		for i := range o.chunks[ci][offset:] {
			if !fn(o.slab.devs[o.chunks[ci][offset+i].h]) {
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
