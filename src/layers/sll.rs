//! Linux cooked captures (tcpdump -i any): SLL (link type 113) and SLL2 (276).

use super::Proto;

pub static SLL: Proto = Proto {
    name: "CookedLinux",
    accessor: "sll",
    doc: "Linux cooked capture header (SLL). (being written)",
    ..super::BASE
};

pub static SLL2: Proto = Proto {
    name: "CookedLinuxV2",
    accessor: "sll2",
    doc: "Linux cooked capture header v2 (SLL2). (being written)",
    ..super::BASE
};
