use super::*;

fn flagged(markdown: &str) -> bool {
    detect(markdown).is_handoff
}

#[track_caller]
fn assert_all(expected: bool, cases: &[&str]) {
    for case in cases {
        let found = detect(case);
        assert_eq!(found.is_handoff, expected, "{case:?} → {found:?}");
    }
}

#[test]
fn spanish_policies_are_detected_in_every_register() {
    assert_all(
        true,
        &[
            "La portabilidad de un plan empresarial la gestiona un asesor comercial.",
            "Este trámite lo gestiona un asesor.",
            "Las devoluciones fuera de plazo las evalúa una persona de nuestro equipo.",
            "Un agente de nuestro equipo se encarga del reembolso.",
            "Un ejecutivo de cobranza estudia tu caso y te propone un convenio.",
            "Si querés cambiar el titular, tenés que hablar con un asesor de Atención al Cliente.",
            "Para pausar la suscripción debes hablar con un asesor por el chat.",
            "Usted debe comunicarse con un ejecutivo para modificar la póliza.",
            "El cambio de domicilio fiscal lo hace un agente del chat.",
            "Tu solicitud la revisa el equipo de Riesgos antes de aprobarla.",
            "Cada reclamo lo analiza una especialista del área de Calidad.",
            "Escríbenos con tu folio para que un agente revise tu pedido.",
            "Un técnico de instalaciones te llama para agendar la visita y cotizar el trabajo.",
            "La ampliación de crédito se tramita únicamente con un ejecutivo.",
            "La reactivación es gestionada por nuestro equipo de Soporte.",
            "- **Cambio de tarifa empresarial:** lo gestiona un asesor.",
            "Consultá las condiciones para comercios con un asesor.",
            "Los pedidos mayoristas están a cargo del equipo comercial.",
        ],
    );
}

#[test]
fn portuguese_and_english_policies_are_detected() {
    assert_all(
        true,
        &[
            "A troca de titularidade é feita por um atendente.",
            "Um atendente vai cuidar do seu pedido de reembolso.",
            "Nossa equipe faz a alteração em até 2 dias úteis.",
            "Para mudar o plano, você precisa falar com um consultor.",
            "O cancelamento é analisado pela nossa equipe financeira.",
            "Our team handles refunds for annual plans.",
            "An advisor will process the change within two days.",
            "Downgrades are handled by our billing team.",
            "You need to talk to an agent to transfer the account.",
            "A specialist reviews each claim before we pay it.",
        ],
    );
}

#[test]
fn an_operation_that_cannot_be_self_served_next_to_a_person_counts() {
    let found = detect(
        "Changing the account holder cannot be done in the app. Write to us and a representative will get back to you.",
    );
    assert_eq!(found.source, HandoffSource::Detected);
    assert_eq!(found.sentences.len(), 1, "{found:?}");
    assert!(found.sentences[0].starts_with("Changing the account holder"));
    assert!(flagged(
        "El aumento de límite no se puede hacer desde la app: un asesor te pide los documentos."
    ));
    assert!(
        !flagged("Un cupón no se puede aplicar desde la app a un pedido ya pagado."),
        "no person: a rule, not a handoff"
    );
}

#[test]
fn contact_details_are_not_a_policy() {
    assert_all(
        false,
        &[
            "Los asesores atienden de lunes a viernes de 9 a 18.",
            "Escribe \"asesor\" para hablar con una persona.",
            "Escribe **asesor** en el chat y te atiende una persona del equipo.",
            "Para hablar con un asesor, escribe 'asesor' en cualquier momento.",
            "Si prefieres que te llamemos, pídelo a un agente.",
            "Fuera del horario, un agente te responde al día siguiente.",
            "Si tienes dudas, debes hablar con un asesor.",
            "Nuestros agentes están disponibles las 24 horas.",
            "| WhatsApp | Asesores de 8 a 20 h |\n|---|---|",
            "Os atendentes atendem de segunda a sexta, das 9h às 18h.",
            "If you want to talk to a person, type 'agent'.",
            "Our agents are available from 8 am to 8 pm.",
            "¿Cómo hablo con un asesor?",
        ],
    );
}

#[test]
fn physical_work_and_impostors_are_not_a_policy() {
    assert_all(
        false,
        &[
            "El técnico te avisa 30 minutos antes de llegar.",
            "Un técnico revisa la señal de forma remota.",
            "Nuestro personal te acompaña hasta la puerta de embarque.",
            "Nuestro equipo lo verifica en 48 horas y te avisamos por correo.",
            "Hay personas que se hacen pasar por nosotros para pedir datos.",
            "Prueba tu SIM en otro equipo para descartar una falla.",
            "Con un equipo de cómputo puedes entrar al portal.",
            "The technician checks the signal before leaving.",
        ],
    );
}

#[test]
fn markers_decide_and_are_not_sentences() {
    let marked = detect("Te ayudamos con tu cambio.\n\n<!-- handoff -->");
    assert_eq!(marked.source, HandoffSource::Marked);
    assert!(marked.is_handoff && marked.sentences.is_empty());

    let overridden = detect("<!-- Handoff: no -->\nEste trámite lo gestiona un asesor.");
    assert_eq!(overridden.source, HandoffSource::Overridden);
    assert!(!overridden.is_handoff);
    assert_eq!(
        overridden.sentences,
        ["Este trámite lo gestiona un asesor."]
    );

    assert_eq!(
        detect("Texto.\n<!--handoff: yes-->").source,
        HandoffSource::Marked
    );
    assert_eq!(
        detect("Texto.\n<!-- handoff: quizás -->").source,
        HandoffSource::None,
        "an unknown value is no marker"
    );
    assert_eq!(
        detect("Texto con <!-- handoff --> en medio.").source,
        HandoffSource::None,
        "a marker is a line of its own"
    );
    assert_eq!(detect("Texto.").source, HandoffSource::None);
}

#[test]
fn sentences_are_shown_as_written() {
    let found = detect(
        "Puedes cambiar tu plan en la [app](https://x.example).\n\nBajar de plan **lo gestiona un asesor**, que revisa\ncontigo las condiciones. Escríbenos por chat.",
    );
    assert_eq!(
        found.sentences,
        ["Bajar de plan lo gestiona un asesor, que revisa contigo las condiciones."]
    );
}

#[test]
fn handoff_passages_list_each_flagged_section() {
    let filler = "palabra ".repeat(130);
    let source = format!(
        "---\ntitle: Planes\n---\n{filler}\n\n## Subir de plan\n\nHazlo desde la app.\n\n## Bajar de plan\n\nBajar de plan lo gestiona un asesor.\n\n## Excepciones\n\n<!-- handoff -->\nCasos especiales.\n\n## Otra cosa\n\n<!-- handoff: no -->\nLo gestiona un asesor.\n"
    );
    let article = crate::knowledge::article::parse_article("planes", &source).unwrap();
    let sources: Vec<_> = article.passages.iter().map(|p| p.handoff).collect();
    assert_eq!(
        sources,
        [
            HandoffSource::None,
            HandoffSource::None,
            HandoffSource::Detected,
            HandoffSource::Marked,
            HandoffSource::Overridden
        ]
    );
    let listed = handoff_passages(&article);
    let summary: Vec<_> = listed
        .iter()
        .map(|h| (h.passage, h.heading.as_deref(), h.source))
        .collect();
    assert_eq!(
        summary,
        [
            (2, Some("Bajar de plan"), HandoffSource::Detected),
            (3, Some("Excepciones"), HandoffSource::Marked)
        ]
    );
    assert_eq!(
        listed[0].sentences,
        ["Bajar de plan lo gestiona un asesor."]
    );
}

#[test]
fn sources_serialize_lowercase() {
    assert_eq!(
        serde_json::to_string(&HandoffSource::Overridden).unwrap(),
        "\"overridden\""
    );
    assert_eq!(HandoffSource::Marked.as_str(), "marked");
}
