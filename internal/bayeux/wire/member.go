package wire

// Member returns the value of the top-level member name of the JSON object obj, byte for byte as written, and
// whether obj has one. A member written twice gives its first value, as the metadata walk reads it. It is how the
// input takes `payload` (or a PushTopic's `sobject`) out of an event's data without parsing the rest.
func Member(obj []byte, name string) ([]byte, bool) {
	i := skipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, false
	}
	i = skipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return nil, false
	}
	for {
		key, v, err := memberName(obj, i)
		if err != nil {
			return nil, false
		}
		end, err := skipValue(obj, v)
		if err != nil {
			return nil, false
		}
		if string(key) == name {
			return obj[v:end:end], true
		}
		i = skipWS(obj, end)
		if i >= len(obj) || obj[i] != ',' {
			return nil, false
		}
		i = skipWS(obj, i+1)
	}
}
