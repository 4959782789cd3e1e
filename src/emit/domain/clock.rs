//! `<clock>`: the guest's time base and its timers.

use super::xml::Xml;
use crate::spec::{ClockOffset, Vm};

pub(super) fn clock(x: &mut Xml, vm: &Vm) {
    let offset = match vm.clock.offset.value {
        ClockOffset::Utc => "utc",
        ClockOffset::Localtime => "localtime",
    };
    x.open("clock", &[("offset", offset)], |x| {
        x.empty("timer", &[("name", "rtc"), ("tickpolicy", "catchup")]);
        x.empty("timer", &[("name", "pit"), ("tickpolicy", "delay")]);
        let hpet = if vm.clock.hpet { "yes" } else { "no" };
        x.empty("timer", &[("name", "hpet"), ("present", hpet)]);
        if vm.hyperv.is_some() {
            x.empty("timer", &[("name", "hypervclock"), ("present", "yes")]);
        }
    });
}
