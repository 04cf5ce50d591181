//go:build !cgo

package memindex

const kernelName = "go"

// dotsI8 is the portable kernel for builds without cgo.
func dotsI8(rows []int8, q []int8, n, dim int, out []int32) {
	for r := 0; r < n; r++ {
		row := rows[r*dim : (r+1)*dim]
		var s int32
		for i, x := range row {
			s += int32(x) * int32(q[i])
		}
		out[r] = s
	}
}

// dotsI8Rows is dotsI8 over the rows listed in idx only.
func dotsI8Rows(rows []int8, idx []int32, q []int8, dim int, out []int32) {
	for i, r := range idx {
		dotsI8(rows[int(r)*dim:(int(r)+1)*dim], q, 1, dim, out[i:i+1])
	}
}
