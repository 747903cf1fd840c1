//! Each cue family in each language, with phrasings written for these tests
//! (not taken from any evaluation set), plus near-misses that must stay FAQ.

use crate::knowledge::Hit;
use crate::triage::{RetrievalPolicy, SmallTalk, TriageClass, classify_with_rules};

fn faq_hit() -> Hit {
    Hit {
        article_id: "some-article".into(),
        title: "Some article".into(),
        heading: None,
        text: "Body".into(),
        score: 0.8,
        escalate: false,
        handoff: false,
        queue: None,
        lang: Some("es".into()),
    }
}

/// Classifies with a confident, non-escalating article, so only cues can
/// make the verdict anything but FAQ.
fn class_of(text: &str) -> TriageClass {
    classify_with_rules(text, &[faq_hit()], &RetrievalPolicy::default()).class
}

fn assert_all(class: TriageClass, texts: &[&str]) {
    let wrong: Vec<String> = texts
        .iter()
        .map(|text| {
            (
                text,
                classify_with_rules(text, &[faq_hit()], &RetrievalPolicy::default()),
            )
        })
        .filter(|(_, verdict)| verdict.class != class)
        .map(|(text, verdict)| format!("{text:?} -> {} ({})", verdict.class, verdict.reason))
        .collect();
    assert!(wrong.is_empty(), "expected {class}:\n{}", wrong.join("\n"));
}

#[test]
fn urgent_money_cues() {
    assert_all(
        TriageClass::Urgent,
        &[
            "oigan me hicieron el cargo doble en la tarjeta",
            "me aparecen 3 cobros iguales de la misma compra",
            "tengo un movimiento desconocido en mi tarjeta de su tienda",
            "nao reconheco essa cobranca no meu cartao",
            "cobraram duas vezes a mesma compra",
            "you billed me twice for one order",
            "there is an unauthorized purchase on my card from your store",
        ],
    );
}

#[test]
fn urgent_account_and_phishing_cues() {
    assert_all(
        TriageClass::Urgent,
        &[
            "me hackearon la cuenta y ahora tiene otro correo",
            "alguem invadiu minha conta",
            "my account got hacked, cant log in",
            "un tipo me escribio diciendo que era de la tienda y le pase mi nip",
            "recebi um link dizendo que era da loja e coloquei o numero do cartao",
            "a fake page asked for my card details and i already typed them",
        ],
    );
}

#[test]
fn urgent_safety_cues() {
    assert_all(
        TriageClass::Urgent,
        &[
            "la licuadora solto humo y se apago",
            "el ventilador echa chispas",
            "a bateria do celular estufou",
            "o carregador esquentou demais e derreteu",
            "the heater started smoking",
            "the battery is swollen and hot",
            "mi hijo se lastimo con la silla que compre",
        ],
    );
}

#[test]
fn urgent_deadline_cues() {
    assert_all(
        TriageClass::Urgent,
        &[
            "el pago vence hoy y sigue pendiente aunque ya deposite",
            "a referencia vence hoje e continua pendente",
            "it ships today and the address is wrong",
        ],
    );
}

#[test]
fn urgente_alone_is_not_urgent() {
    assert_all(
        TriageClass::Faq,
        &[
            "URGENTE cuales son los horarios de la tienda",
            "urgent!! do you sell gift cards",
            "urgente: aceitam cartao de debito?",
        ],
    );
}

#[test]
fn person_requests() {
    assert_all(
        TriageClass::Human,
        &[
            "me comunican con un asesor por favor",
            "necesito hablar con alguien de verdad",
            "asesor",
            "llamenme al rato porfa",
            "quero conversar com um atendente",
            "alguem pode me ligar amanha?",
            "let me speak with a representative",
            "please call me back tomorrow",
        ],
    );
}

#[test]
fn how_to_reach_is_faq() {
    assert_all(
        TriageClass::Faq,
        &[
            "como puedo comunicarme con ustedes por telefono?",
            "que horario de atencion tienen?",
            "como faco pra falar com voces?",
            "how can i contact your support team?",
        ],
    );
}

#[test]
fn claims_need_a_person() {
    assert_all(
        TriageClass::Human,
        &[
            "el espejo llego estrellado",
            "me mandaron un color equivocado",
            "faltaron dos piezas en la caja",
            "a caneca chegou amassada",
            "veio faltando uma peca",
            "the mug came cracked",
            "wrong item in my package",
            "aparece como entregado pero nunca lo recibi",
            "it says delivered but i never got it",
        ],
    );
}

#[test]
fn threats_and_repeated_contact() {
    assert_all(
        TriageClass::Human,
        &[
            "si no me resuelven voy a ir a profeco",
            "vou abrir uma reclamacao no procon",
            "ill do a chargeback if this isnt solved",
            "es la cuarta vez que escribo por lo mismo",
            "nobody answered my emails",
        ],
    );
}

#[test]
fn order_actions_and_overdue() {
    assert_all(
        TriageClass::Human,
        &[
            "quiero quitar una playera de mi pedido",
            "quiero cancelar pero ya va en camino",
            "i need to cancel but it already shipped",
            "mi reembolso todavia no llega y ya van 3 semanas",
            "my refund still hasnt arrived, it was 2 weeks ago",
            "me facturaron con datos equivocados, la pueden corregir?",
        ],
    );
}

#[test]
fn uncovered_request_types() {
    assert_all(
        TriageClass::Human,
        &[
            "tienen esa chamarra en talla XL?",
            "hacen ventas al mayoreo?",
            "busco empleo, estan contratando?",
            "do you have this in size small?",
        ],
    );
}

#[test]
fn plain_questions_stay_faq() {
    assert_all(
        TriageClass::Faq,
        &[
            "cuanto tarda el envio a sonora?",
            "como cambio mi contrasena",
            "se puede pagar en efectivo?",
            "puedo devolver algo que ya use?",
            "quanto custa o frete?",
            "how do i return an item?",
            "mi pedido dice en camino, que significa?",
            "pague hace 10 minutos y dice pendiente",
            "otra persona puede recoger mi pedido?",
            "mi pedido no ha llegado, cuanto tarda normalmente?",
            "puedo pagar con la tarjeta de otra persona?",
            "el link de rastreo no abre",
            "si pago hoy sale hoy?",
            "mi tarjeta fue rechazada dos veces, que hago?",
            "why was i charged for shipping?",
            "cual es el telefono de atencion a clientes?",
        ],
    );
}

#[test]
fn small_talk_is_faq_without_article() {
    for (text, kind) in [
        ("holaaa", SmallTalk::Greeting),
        ("buenas noches!", SmallTalk::Greeting),
        ("oi, tudo bem?", SmallTalk::Greeting),
        ("mil gracias 🙏", SmallTalk::Thanks),
        ("thank you so much", SmallTalk::Thanks),
        ("ok", SmallTalk::Acknowledgement),
        ("👍", SmallTalk::Acknowledgement),
    ] {
        let verdict = classify_with_rules(text, &[], &RetrievalPolicy::default());
        assert_eq!(verdict.class, TriageClass::Faq, "{text}");
        assert_eq!(verdict.small_talk, Some(kind), "{text}");
    }
}

#[test]
fn retrieval_drives_the_rest() {
    let policy = RetrievalPolicy::default();
    let question = "cuanto cuesta el envio express";
    let low = Hit {
        score: 0.1,
        ..faq_hit()
    };
    let verdict = classify_with_rules(question, &[low], &policy);
    assert_eq!(verdict.class, TriageClass::Human);
    assert!(
        verdict.reason.contains("low confidence"),
        "{}",
        verdict.reason
    );
    let verdict = classify_with_rules(question, &[], &policy);
    assert_eq!(verdict.class, TriageClass::Human);
    let escalating = Hit {
        escalate: true,
        ..faq_hit()
    };
    let verdict = classify_with_rules(question, &[escalating], &policy);
    assert_eq!(verdict.class, TriageClass::Human);
    assert!(
        verdict.reason.contains("requires a person"),
        "{}",
        verdict.reason
    );
    assert_eq!(class_of(question), TriageClass::Faq);
}

#[test]
fn urgent_without_the_usual_words() {
    assert_all(
        TriageClass::Urgent,
        &[
            "alguém fez uma compra com o meu cartão sem eu autorizar",
            "usaram meu cartão numa compra que não fiz",
            "alguien uso mi tarjeta para comprar en su tienda sin mi consentimiento",
            "a purchase was made with my card without my permission",
            "la pagina esta caida y no puedo pagar nada",
            "o site está fora do ar desde ontem",
            "your website went down in the middle of my payment",
        ],
    );
}
