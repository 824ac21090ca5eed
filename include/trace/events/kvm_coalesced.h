/* SPDX-License-Identifier: GPL-2.0-only */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM kvm

#if !defined(_TRACE_KVM_COALESCED_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_KVM_COALESCED_H

#include <linux/tracepoint.h>

/* One guest write appended to the coalesced ring instead of exiting. */
TRACE_EVENT(kvm_coalesced_write,
	    TP_PROTO(u64 addr, u32 len, bool pio, u32 slot),
	    TP_ARGS(addr, len, pio, slot),

	    TP_STRUCT__entry(__field(u64, addr)
			     __field(u32, len)
			     __field(bool, pio)
			     __field(u32, slot)),

	    TP_fast_assign(__entry->addr = addr;
			   __entry->len = len;
			   __entry->pio = pio;
			   __entry->slot = slot;),

	    TP_printk("%s addr 0x%llx len %u slot %u",
		      __entry->pio ? "pio" : "mmio", __entry->addr,
		      __entry->len, __entry->slot)
);

/* KVM_(UN)REGISTER_COALESCED_MMIO from userspace, and its result. */
TRACE_EVENT(kvm_coalesced_zone,
	    TP_PROTO(bool add, u64 addr, u32 size, u32 flags, int result),
	    TP_ARGS(add, addr, size, flags, result),

	    TP_STRUCT__entry(__field(bool, add)
			     __field(u64, addr)
			     __field(u32, size)
			     __field(u32, flags)
			     __field(int, result)),

	    TP_fast_assign(__entry->add = add;
			   __entry->addr = addr;
			   __entry->size = size;
			   __entry->flags = flags;
			   __entry->result = result;),

	    TP_printk("%s %s addr 0x%llx size %u flags 0x%x result %d",
		      __entry->add ? "register" : "unregister",
		      __entry->flags & 1 ? "pio" : "mmio", __entry->addr,
		      __entry->size, __entry->flags, __entry->result)
);

#endif /* _TRACE_KVM_COALESCED_H */

#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE kvm_coalesced

#include <trace/define_trace.h>
